import { DhtNode, DhtProxyServer, InfoHash, Value, type SocketAddress } from "jami-dht";
import { collectPeriodically, DEFAULT_GC_MINUTES } from "./periodic-gc.js";
import { parseInteger as integer, printLine as line, untilStopped, UsageError, type CliIo } from "./output.js";

export interface DhtCliOptions {
  port?: string;
  bind?: string;
  bootstrap?: string[];
  network?: string;
  type?: string;
  "user-type"?: string;
  duration?: string;
  "status-interval"?: string;
  "proxy-port"?: string;
  "no-rate-limit"?: boolean;
  /** `node`: a full GC every this many minutes (default 5, 0 = never). */
  "gc-interval"?: string;
}

export function valueLine(v: Value): Record<string, unknown> {
  const data = Buffer.from(v.data);
  const utf8 = data.toString("utf8");
  return {
    id: v.id.toString(),
    type: v.type,
    userType: v.userType || undefined,
    data: Buffer.from(utf8, "utf8").equals(data) ? utf8 : undefined,
    dataBase64: data.toString("base64"),
    encrypted: v.isEncrypted,
    signed: v.isSigned,
    owner: v.ownerId?.toString(),
    seq: v.isSigned ? v.seq : undefined,
  };
}

async function startNode(options: DhtCliOptions, defaultPort: number): Promise<DhtNode> {
  const node = await DhtNode.create({
    host: options.bind ?? "0.0.0.0",
    port: integer(options.port, "port", defaultPort),
    network: integer(options.network, "network", 0),
    bootstrap: options.bootstrap ?? [],
  });
  if (options.bootstrap?.length) {
    try {
      await node.bootstrap();
    } catch (error) {
      await node.close();
      throw error;
    }
  }
  return node;
}

/** `jami dht node|get|put|listen`: JSON lines on stdout. */
export async function dhtCommand(sub: string | undefined, args: string[], options: DhtCliOptions, io: CliIo, signal?: AbortSignal): Promise<void> {
  switch (sub) {
    case "node":
      return runNode(options, io, signal);
    case "get": {
      const [key] = args;
      if (!key) throw new UsageError("usage: jami dht get KEY --bootstrap HOST:PORT");
      const node = await startNode(options, 0);
      try {
        let count = 0;
        for await (const v of node.get(InfoHash.parse(key), { signal })) {
          count++;
          line(io, { event: "value", key: InfoHash.parse(key).toString(), ...valueLine(v) });
        }
        line(io, { event: "done", count });
      } finally {
        await node.close();
      }
      return;
    }
    case "put": {
      const [key, text] = args;
      if (!key || text === undefined) throw new UsageError("usage: jami dht put KEY VALUE --bootstrap HOST:PORT");
      const node = await startNode(options, 0);
      try {
        const value = new Value({ data: text, type: integer(options.type, "type", 0), userType: options["user-type"] ?? "text/plain" });
        const result = await node.put(InfoHash.parse(key), value, { signal });
        line(io, { event: "put", key: InfoHash.parse(key).toString(), id: value.id.toString(), nodes: result.nodes });
      } finally {
        await node.close();
      }
      return;
    }
    case "listen": {
      const [key] = args;
      if (!key) throw new UsageError("usage: jami dht listen KEY --bootstrap HOST:PORT [--duration S]");
      const node = await startNode(options, 0);
      const hash = InfoHash.parse(key);
      const sub = node.listen(hash);
      sub.on("value", (v) => line(io, { event: "value", key: hash.toString(), ...valueLine(v) }));
      sub.on("expired", (ids) => line(io, { event: "expired", key: hash.toString(), ids: ids.map(String) }));
      sub.on("refreshed", (ids) => line(io, { event: "refreshed", key: hash.toString(), ids: ids.map(String) }));
      line(io, { event: "listening", key: hash.toString() });
      const duration = integer(options.duration, "duration", 0);
      const timer = duration ? new AbortController() : undefined;
      const t = duration ? setTimeout(() => timer!.abort(), duration * 1000) : undefined;
      await untilStopped({ signal: timer ? AbortSignal.any([timer.signal, ...(signal ? [signal] : [])]) : signal });
      clearTimeout(t);
      sub.cancel();
      await node.close();
      return;
    }
    default:
      throw new UsageError(`unknown dht command "${sub ?? ""}"; try jami --help`);
  }
}

async function runNode(options: DhtCliOptions, io: CliIo, signal?: AbortSignal): Promise<void> {
  const node = await DhtNode.create({
    host: options.bind ?? "0.0.0.0",
    port: integer(options.port, "port", 4222),
    network: integer(options.network, "network", 0),
    rateLimit: options["no-rate-limit"] ? false : undefined,
  });
  const addresses: SocketAddress[] = node.addresses;
  const proxyPort = options["proxy-port"] === undefined ? undefined : integer(options["proxy-port"], "proxy-port", 0);
  const proxy = proxyPort === undefined ? undefined : await DhtProxyServer.start({ node, port: proxyPort, host: options.bind ?? "127.0.0.1" });
  const status = (event: string): void => {
    const s = node.stats();
    line(io, {
      event,
      id: s.id,
      port: addresses[0]?.port,
      proxyPort: proxy?.port,
      routingTable: { good: s.ipv4.good + s.ipv6.good, dubious: s.ipv4.dubious + s.ipv6.dubious },
      storage: s.storage,
    });
  };
  status("started");
  if (options.bootstrap?.length) {
    node.bootstrap(options.bootstrap).then(
      () => status("bootstrapped"),
      (e: Error) => line(io, { event: "warning", message: e.message }),
    );
  }
  const every = integer(options["status-interval"], "status-interval", 30) * 1000;
  const timer = every ? setInterval(() => status("status"), every) : undefined;
  const stopCollecting = collectPeriodically(integer(options["gc-interval"], "gc-interval", DEFAULT_GC_MINUTES));
  const why = await untilStopped({ signal });
  stopCollecting();
  clearInterval(timer);
  await proxy?.close();
  await node.close();
  line(io, { event: "stopped", reason: why });
}
