// GET /healthz and GET /metrics, served by Bolt's HTTP receiver (customRoutes) or by a plain server in local and
// Socket Mode. Written once.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Runtime } from "../runtime.js";
import { redisReachable } from "../state/redis.js";
import { refreshLiveMetrics } from "./live-metrics.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** The custom routes, in Bolt's CustomRoute shape. */
export function httpRoutes(
  rt: Runtime,
  startedAt = Date.now(),
): { path: string; method: string[]; handler: Handler }[] {
  const healthz: Handler = (_req, res) => {
    void (async () => {
      const up = await redisReachable(rt.redis, 1_000);
      rt.metrics.redisUp.set(up ? 1 : 0);
      let mode: string | null = null;
      if (up)
        mode = await rt.mode.get().then(
          (m) => m.mode,
          () => null,
        );
      const body = {
        ok: up,
        redis: up ? "up" : "down",
        mode,
        slack: rt.config.mode,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      };
      res.writeHead(up ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    })();
  };
  const metrics: Handler = (_req, res) => {
    void (async () => {
      await refreshLiveMetrics(rt);
      const text = await rt.metrics.registry.metrics();
      res.writeHead(200, { "content-type": rt.metrics.registry.contentType });
      res.end(text);
    })();
  };
  return [
    { path: "/healthz", method: ["GET"], handler: healthz },
    { path: "/metrics", method: ["GET"], handler: metrics },
  ];
}

/** A plain HTTP server for the routes (local mode and Socket Mode). */
export function startPlainServer(rt: Runtime, host: string, port: number): Promise<Server> {
  const routes = httpRoutes(rt);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const route = routes.find((r) => r.path === path && r.method.includes(req.method ?? "GET"));
    if (route) return route.handler(req, res);
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "not found" }));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
