// The locate rules live in the gate package (packages/gate/src/market/locate.ts): the gate enforces them.
export * from "@tradeguard/gate/locate";
