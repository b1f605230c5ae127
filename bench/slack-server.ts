// A Slack app in a process of its own, for P2 (the load generator must not share its event loop): `real` is the
// full bot (createRuntime + startBot, configured by the environment), `bare` a bare Bolt app on Bolt's HTTP receiver
// whose /status listener only acks. Prints "READY <port>" once listening; stops on SIGTERM.
import { createRuntime, loadAppConfig } from "../src/main.js";
import { createNotifier } from "../src/notify-factory.js";
import { startBot } from "../src/services.js";
import { silentLog } from "../test/support/log.js";
import { startBareApp } from "./slack.js";

const kind = process.argv[2];
const port = Number(process.env.PORT);
let stop: () => Promise<unknown>;
if (kind === "real") {
  const config = loadAppConfig(process.env);
  const rt = await createRuntime(config, { log: silentLog, notifier: createNotifier(config, silentLog) });
  const bot = await startBot(rt);
  stop = async () => {
    await bot.stop();
    await rt.close();
  };
} else if (kind === "bare") {
  const app = await startBareApp(process.env.SLACK_API_URL ?? "", port, (a) => {
    a.command("/status", async ({ ack }) => {
      await ack();
    });
  });
  stop = app.stop;
} else {
  process.stderr.write("usage: slack-server.ts real|bare\n");
  process.exit(2);
}
process.stdout.write(`READY ${port}\n`);
process.once("SIGTERM", () => {
  void stop().finally(() => process.exit(0));
});
