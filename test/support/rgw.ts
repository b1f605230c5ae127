// A real S3-compatible server on loopback for tests: a throwaway single-node Ceph cluster (one mon, one OSD on
// memstore, one radosgw) in a temp dir, started per test file that needs it (recipe: ../shared/notes/s3-on-loopback.md).
// Every daemon runs in the foreground in its own process group under `timeout` (so a crashed test run cannot leak
// it for long) and is stopped by group. Ports come from below the ephemeral range: a port inside it once collided
// with an outgoing connection's source port.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Rgw {
  /** Plain HTTP endpoint, e.g. http://127.0.0.1:21790. */
  endpoint: string;
  /** TLS endpoint (self-signed certificate for IP 127.0.0.1), when started with `tls: true`. */
  tlsEndpoint?: string;
  /** The PEM certificate of the TLS endpoint (trust it with an https.Agent `ca` or NODE_EXTRA_CA_CERTS). */
  caFile?: string;
  ca?: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The SSE-KMS key id the `testing` KMS backend knows (`rgw crypt s3 kms encryption keys`). */
  kmsKeyId: string;
  /** Runs radosgw-admin against this cluster (e.g. to inspect a bucket). */
  admin(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

const HOW_TO_INSTALL =
  "apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common (scripts/ensure-deps.sh --test does this)";
/** Seconds after which `timeout` kills a daemon whatever happens to the test run. */
const DAEMON_TTL_S = 900;
const START_DEADLINE_MS = 60_000;

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** True when nothing listens on 127.0.0.1:port and we may bind it. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** `n` distinct free ports below the ephemeral range (and above the OSD's 6800–7300). */
async function lowPorts(n: number): Promise<number[]> {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: keep the IANA default lower bound
  }
  const out: number[] = [];
  for (let tries = 0; out.length < n && tries < 500; tries++) {
    const p = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (!out.includes(p) && (await portFree(p))) out.push(p);
  }
  if (out.length < n) throw new Error(`rgw: no free port below ${low}`);
  return out;
}

function conf(dir: string, ports: { mon: number; http: number; https?: number }, fsid: string, kms: string) {
  const frontends = [`beast endpoint=127.0.0.1:${ports.http}`];
  if (ports.https)
    frontends.push(
      `ssl_endpoint=127.0.0.1:${ports.https} ssl_certificate=${dir}/tls/cert.pem ssl_private_key=${dir}/tls/key.pem`,
    );
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${ports.mon}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
ms client mode = crc secure
ms mon service mode = crc secure
ms service mode = crc secure
ms mon cluster mode = crc secure
ms cluster mode = crc secure
osd objectstore = memstore
memstore device bytes = 536870912
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon max pg per osd = 1000
paxos propose interval = 0.01
run dir = ${dir}/run
log file = ${dir}/log/$name.log
admin socket = ${dir}/run/$name.$pid.asok
mon data = ${dir}/mon/$cluster-$id
osd data = ${dir}/osd/$cluster-$id
rgw data = ${dir}/rgw
rgw frontends = ${frontends.join(" ")}
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = ${kms}
rgw crypt require ssl = false
`;
}

/**
 * Starts the cluster and resolves once radosgw answers HTTP with a user and the three storage classes in place. Tried
 * twice: a port found free can be taken by another process before the daemon binds it.
 */
export async function startRgw(opts: { tls?: boolean } = {}): Promise<Rgw> {
  // The SDK warns once per process that its 2027 releases need Node 22; the tests run on the Node 20 the repo pins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  try {
    return await startOnce(opts);
  } catch (first) {
    if (/not installed/.test((first as Error).message)) throw first;
    return startOnce(opts).catch((err) => {
      throw new Error(`rgw: failed twice:\n${(first as Error).message}\n${(err as Error).message}`);
    });
  }
}

async function startOnce(opts: { tls?: boolean }): Promise<Rgw> {
  try {
    await run("sh", ["-c", "command -v radosgw && command -v ceph-mon && command -v ceph-osd"]);
  } catch {
    throw new Error(`radosgw / ceph-mon / ceph-osd not installed: ${HOW_TO_INSTALL}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "tg-rgw-"));
  for (const d of ["run", "log", "mon", "osd/ceph-0", "rgw", "tls"]) mkdirSync(join(dir, d), { recursive: true });
  const [mon, http, https] = await lowPorts(3);
  const ports = { mon: mon!, http: http!, https: opts.tls ? https : undefined };
  const fsid = randomUUID();
  const kmsKeyId = "tradeguard-test-key";
  writeFileSync(join(dir, "ceph.conf"), conf(dir, ports, fsid, `${kmsKeyId}=${randomBytes(32).toString("base64")}`));
  const c = ["-c", join(dir, "ceph.conf")];
  const procs: ChildProcess[] = [];
  const daemon = (name: string, cmd: string, args: string[]) => {
    // detached: its own session and process group (timeout leads it), so stop() can signal the whole group.
    const p = spawn("timeout", ["--kill-after=5", String(DAEMON_TTL_S), cmd, ...c, "-f", ...args], {
      detached: true,
      stdio: ["ignore", "ignore", "ignore"],
    });
    procs.push(p);
    p.once("exit", (code, signal) => {
      if (!stopping) died = `${name} exited (${code ?? signal}); see ${dir}/log`;
    });
    return p;
  };
  let stopping = false;
  let died: string | null = null;
  const stop = async () => {
    stopping = true;
    // memstore: nothing to flush. SIGKILL the groups (radosgw can take seconds to honour SIGTERM).
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null || !p.pid) return resolve();
            p.once("exit", () => resolve());
            try {
              process.kill(-p.pid, "SIGKILL");
            } catch {
              resolve();
            }
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  const admin = (args: string[]) => run("radosgw-admin", [...c, ...args]);
  try {
    const started = Date.now();
    if (opts.tls) {
      await run("openssl", [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
        ...["-keyout", join(dir, "tls/key.pem"), "-out", join(dir, "tls/cert.pem"), "-days", "2"],
        ...["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
      ]);
    }
    await run("monmaptool", [
      "--create",
      "--fsid",
      fsid,
      "--addv",
      "a",
      `[v2:127.0.0.1:${ports.mon}]`,
      `${dir}/monmap`,
    ]);
    await run("ceph-mon", [...c, "--mkfs", "-i", "a", "--monmap", `${dir}/monmap`]);
    daemon("ceph-mon", "ceph-mon", ["-i", "a"]);
    // `ceph` waits for the mon to answer (bounded by --connect-timeout): that is the mon's readiness.
    const osdUuid = randomUUID();
    const id = (await run("ceph", [...c, "--connect-timeout", "20", "osd", "new", osdUuid])).trim();
    await run("ceph-osd", [...c, "--mkfs", "-i", id, "--osd-uuid", osdUuid]);
    daemon("ceph-osd", "ceph-osd", ["-i", id]);
    // radosgw-admin creates the RGW pools, so it returns only once the OSD is up and serving them.
    const accessKeyId = `TG${randomBytes(8).toString("hex").toUpperCase()}`;
    const secretAccessKey = randomBytes(20).toString("base64url");
    const user = ["user", "create", "--uid", "tradeguard", "--display-name", "tradeguard"];
    await admin([...user, "--access-key", accessKeyId, "--secret", secretAccessKey]);
    // Lifecycle transitions name storage classes: declare them (no period commit is needed without a realm).
    const placement = ["--placement-id", "default-placement"];
    for (const sc of ["STANDARD_IA", "GLACIER", "DEEP_ARCHIVE"]) {
      await admin(["zonegroup", "placement", "add", "--rgw-zonegroup", "default", ...placement, "--storage-class", sc]);
      const pool = `default.rgw.${sc.toLowerCase()}.data`;
      await admin([
        "zone",
        "placement",
        "add",
        "--rgw-zone",
        "default",
        ...placement,
        "--storage-class",
        sc,
        "--data-pool",
        pool,
      ]);
    }
    daemon("radosgw", "radosgw", ["-n", "client.rgw"]);
    const endpoint = `http://127.0.0.1:${ports.http}`;
    for (;;) {
      if (died) throw new Error(`rgw: ${died}`);
      if (Date.now() - started > START_DEADLINE_MS) throw new Error(`rgw: radosgw did not answer; see ${dir}/log`);
      const up = await fetch(endpoint, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.status > 0,
        () => false,
      );
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const caFile = opts.tls ? join(dir, "tls/cert.pem") : undefined;
    return {
      endpoint,
      tlsEndpoint: opts.tls ? `https://127.0.0.1:${ports.https}` : undefined,
      caFile,
      ca: caFile ? readFileSync(caFile, "utf8") : undefined,
      region: "us-east-1",
      accessKeyId,
      secretAccessKey,
      kmsKeyId,
      admin,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface EncryptionShim {
  /** Point clients here instead of at RGW. */
  endpoint: string;
  /** The bucket default encryption configurations stored through the shim (bucket → the XML as PUT). */
  configs: Map<string, string>;
  /** Every DELETE ?encryption the shim received (never forwarded: RGW Pacific would delete the bucket). */
  deletes: string[];
  close(): Promise<void>;
}

/**
 * RGW Pacific does not implement bucket default encryption (PUT ?encryption is taken as CreateBucket, GET as
 * ListObjects, DELETE as DeleteBucket). This shim answers exactly that subresource the way S3 does (AWS API reference:
 * PutBucketEncryption, GetBucketEncryption, ServerSideEncryptionConfigurationNotFoundError), without checking the
 * signature, and forwards every other request to RGW unchanged, Host header included, so SigV4 still verifies there.
 */
export async function encryptionShim(target: string): Promise<EncryptionShim> {
  const configs = new Map<string, string>();
  const deletes: string[] = [];
  const to = new URL(target);
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://shim");
    const bucket = url.pathname.split("/")[1] ?? "";
    if (url.searchParams.has("encryption") && url.pathname.split("/").filter(Boolean).length === 1) {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const xml = (code: number, body: string) => {
          res.writeHead(code, { "content-type": "application/xml", "x-amz-request-id": "shim" });
          res.end(body);
        };
        if (req.method === "PUT") {
          configs.set(bucket, Buffer.concat(chunks).toString("utf8"));
          return xml(200, "");
        }
        if (req.method === "DELETE") {
          deletes.push(bucket);
          res.writeHead(204).end();
          return;
        }
        const stored = configs.get(bucket);
        if (stored) return xml(200, stored);
        xml(
          404,
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServerSideEncryptionConfigurationNotFoundError</Code><Message>The server side encryption configuration was not found</Message><BucketName>${bucket}</BucketName></Error>`,
        );
      });
      return;
    }
    const fwd = httpRequest(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    fwd.on("error", (err) => {
      res.writeHead(502).end(String(err));
    });
    req.pipe(fwd);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    configs,
    deletes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
