// A pub/sub subscriber that timestamps messages on receipt, and the bare SET + PUBLISH round trip used as the
// baseline by mode-pubsub and panic-confirm.
import { Redis } from "ioredis";

interface Waiter {
  match: (channel: string, message: string) => boolean;
  resolve: (receivedAt: number) => void;
}

/** One subscriber connection; `next()` resolves with performance.now() at the receipt of the first matching message. */
export class TimedSubscriber {
  private readonly waiters: Waiter[] = [];

  private constructor(readonly redis: Redis) {
    redis.on("message", (channel: string, message: string) => {
      const at = performance.now();
      for (let i = 0; i < this.waiters.length; ) {
        const w = this.waiters[i]!;
        if (w.match(channel, message)) {
          this.waiters.splice(i, 1);
          w.resolve(at);
        } else {
          i++;
        }
      }
    });
  }

  static async connect(url: string, channels: string[]): Promise<TimedSubscriber> {
    const redis = new Redis(url, { maxRetriesPerRequest: 1, connectionName: "bench-subscriber" });
    await redis.subscribe(...channels);
    return new TimedSubscriber(redis);
  }

  /** Registers interest before the action that publishes (so no message can be missed). */
  next(match: (channel: string, message: string) => boolean): Promise<number> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** Time from sending `SET key token` + `PUBLISH channel token` (one pipeline) to the subscriber receiving it. */
export async function bareSetPublish(
  client: Redis,
  sub: TimedSubscriber,
  key: string,
  channel: string,
  token: string,
): Promise<number> {
  const received = sub.next((ch, msg) => ch === channel && msg === token);
  const t0 = performance.now();
  const sent = client.pipeline().set(key, token).publish(channel, token).exec();
  const at = await received;
  await sent;
  return at - t0;
}
