// The NYSE calendar lives in the gate package (packages/gate/src/market/calendar.ts): the gate reads it.
export * from "@tradeguard/gate/calendar";
