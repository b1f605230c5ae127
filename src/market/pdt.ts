// The PDT rules live in the gate package (packages/gate/src/market/pdt.ts): the gate enforces them.
export * from "@tradeguard/gate/pdt";
