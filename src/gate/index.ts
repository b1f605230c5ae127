// `tradeguard/gate`: the pre-trade gate, which lives in its own package (packages/gate, `@tradeguard/gate`).
export * from "@tradeguard/gate";
