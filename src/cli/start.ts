// tradeguard start — the bot.
import type { Command } from "commander";
import { redactedConfig } from "../config.js";
import { runDoctor, summarize } from "../doctor/index.js";
import { ConfigError } from "../errors.js";
import { createLogger } from "../log.js";
import { createRuntime } from "../main.js";
import { createNotifier } from "../notify-factory.js";
import { installProcessGuard } from "../process-guard.js";
import { startBot } from "../services.js";
import { CliExit, cliConfig, EXIT } from "./context.js";

/** Registers start. */
export function registerStart(program: Command): void {
  program
    .command("start")
    .description("start the bot (Slack HTTP, Socket Mode, or local mode without Slack tokens)")
    .action(async () => {
      const config = cliConfig();
      // Pretty lines on a terminal; JSON lines (what log collectors parse) on a pipe or a file, in every mode.
      const log = createLogger({ level: config.logLevel, pretty: true });
      log.info({ config: redactedConfig(config) }, "configuration");
      let rt: Awaited<ReturnType<typeof createRuntime>>;
      try {
        rt = await createRuntime(config, { log, notifier: createNotifier(config, log) });
      } catch (err) {
        if (err instanceof ConfigError) throw new CliExit(EXIT.usage, err.userMessage);
        throw err;
      }
      installProcessGuard({ log, metrics: rt.metrics });
      if (config.mode === "local") {
        log.info(
          `local mode: no Slack tokens. Alerts print here; drive it with the CLI (npx tradeguard status). Audit key: ${config.audit.keyFile}`,
        );
      }
      const bot = await startBot(rt);
      // The preflight, once the bot already answers: a failed check is said loudly, never a reason not to run.
      void runDoctor(rt).then(
        (report) => log[report.ok ? "info" : "warn"]({ checks: report.checks }, summarize(report)),
        (err) => log.warn({ err }, "doctor: could not run the start-up checks"),
      );
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          log.info(`${sig}: stopping`);
          resolve();
        };
        process.once("SIGINT", () => stop("SIGINT"));
        process.once("SIGTERM", () => stop("SIGTERM"));
      });
      await bot.stop();
      await rt.close();
    });
}
