#!/usr/bin/env node
// Container / load-balancer health check: GET http://127.0.0.1:$PORT/healthz within 3 s. Exit 0 healthy (HTTP 200:
// the bot answers and Redis answered its PING), 1 otherwise, with one line on stderr saying why.
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HEALTHCHECK_HOST ?? "127.0.0.1";
const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}/healthz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  const body = (await res.text()).slice(0, 200);
  if (res.status === 200) process.exit(0);
  process.stderr.write(`tradeguard healthcheck: ${url} answered ${res.status}: ${body}\n`);
} catch (err) {
  process.stderr.write(`tradeguard healthcheck: ${url}: ${err?.cause?.code ?? err?.name ?? err}\n`);
}
process.exit(1);
