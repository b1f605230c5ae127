// The Redis key schema lives in the gate package (packages/gate/src/state/keys.ts), which is versioned with it.
export * from "@tradeguard/gate/keys";
