// Runs the CLI from source (tests spawn this through tsx, so they never depend on a stale dist/).
import { run } from "../../src/cli/main.js";

process.exitCode = await run(process.argv);
