// `tradeguard/ratelimit`: the rate limiter lives in the gate package (packages/gate, `@tradeguard/gate/ratelimit`).
export * from "@tradeguard/gate/ratelimit";
