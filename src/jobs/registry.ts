// Every guard the bot schedules. One line per guard; each lives in its own file.
import type { Guard } from "./guard.js";

// biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
export const allGuards: Guard<any, any, any>[] = [];
