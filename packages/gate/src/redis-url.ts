// Redis addresses as tradeguard writes them: "host[:port]" (IPv6 in brackets) and the Sentinel URL form
// `redis+sentinel://[user:password@]host1:26379,host2:26379/<name>[/<db>]` (`rediss+sentinel://`: TLS to the data
// nodes and the sentinels). Pure and dependency-free, at the bottom layer: the config loader, the Redis clients and
// the gate library (which must stay light) all parse with it.

/** One sentinel (or server) address. */
export interface HostPort {
  host: string;
  port: number;
}

const hostPattern = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(:(\d{1,5}))?$/;

/** "host[:port]" (IPv6 in brackets) → address; port defaults to `defaultPort`. Null when malformed. */
export function parseHostPort(s: string, defaultPort: number): HostPort | null {
  const m = hostPattern.exec(s.trim());
  if (!m) return null;
  const port = m[4] === undefined ? defaultPort : Number(m[4]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/** A parsed `redis+sentinel://` URL. */
export interface SentinelUrl {
  tls: boolean;
  sentinels: HostPort[];
  name: string;
  db: number;
  username?: string;
  password?: string;
}

/**
 * Parses `redis+sentinel://[user:password@]h1[:p1],h2[:p2]/<name>[/<db>]` (`rediss+sentinel://`: TLS to the data
 * nodes and the sentinels). The password, if any, is the data nodes'. Throws an Error saying what is wrong.
 */
export function parseSentinelUrl(url: string): SentinelUrl {
  const m = /^(rediss?)\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)(?:\/(\d{1,3}))?\/?$/.exec(url.trim());
  if (!m) throw new Error("expected redis+sentinel://[user:password@]host:port[,host:port…]/<name>[/<db>]");
  const sentinels = m[3]!.split(",").map((h) => {
    const a = parseHostPort(h, 26379);
    if (!a) throw new Error(`${JSON.stringify(h)} is not host[:port]`);
    return a;
  });
  const name = decodeURIComponent(m[4]!);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new Error(`${JSON.stringify(name)} is not a master group name`);
  const out: SentinelUrl = { tls: m[1] === "rediss", sentinels, name, db: m[5] ? Number(m[5]) : 0 };
  if (m[2] !== undefined) {
    const [user, ...rest] = m[2].split(":");
    if (user) out.username = decodeURIComponent(user);
    if (rest.length) out.password = decodeURIComponent(rest.join(":"));
  }
  return out;
}

/** The credential-free form of a Sentinel target, for messages and logs. */
export function sentinelDisplayUrl(s: { sentinels: HostPort[]; name: string; db: number }, tls: boolean): string {
  const hosts = s.sentinels.map((a) => (a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`));
  return `${tls ? "rediss" : "redis"}+sentinel://${hosts.join(",")}/${s.name}${s.db ? `/${s.db}` : ""}`;
}
