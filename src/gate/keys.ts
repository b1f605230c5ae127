// The logical names of the market-rule and gate keys live with every other key name in src/state/keys.ts.
export { MARKET_KEYS } from "../state/keys.js";
