import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { dtlsLink, type DtlsLink } from "jami-dtls";
import { IceUdpAgent, type IceUdpConnection } from "jami-ice";
import { Certificate, PrivateKey, type DeviceIdentity } from "jami-identity";
import { summarize, type Summary } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MESSAGES = Number(process.env.BENCH_DTLS_MESSAGES ?? 20_000);
const MESSAGE_BYTES = 1200;
const VECTORS = resolve(__dirname, "../../shared/vectors/jami");

export interface DtlsBench {
  /** Both ends' `dtlsLink` over a nominated ICE-UDP pair on 127.0.0.1, jamid's RSA-4096 device chains, until both are up. */
  handshake: Summary;
  /** `MESSAGES` datagrams of 1200 bytes one way (AES-256-GCM records), paced by the event loop: delivered MB/s and loss. */
  throughputMBps: number;
  lossPercent: number;
}

function identity(name: string): DeviceIdentity {
  const [certificate, ...issuers] = Certificate.chainFromPem(readFileSync(join(VECTORS, `${name}.device-chain.pem`), "utf8"));
  return { key: PrivateKey.fromPem(readFileSync(join(VECTORS, `${name}.device.key.pem`), "utf8")), certificate: certificate!, issuers };
}

async function icePair(): Promise<[IceUdpConnection, IceUdpConnection]> {
  const [a, b] = await Promise.all([
    IceUdpAgent.create({ addresses: ["127.0.0.1"], controlling: false }),
    IceUdpAgent.create({ addresses: ["127.0.0.1"], controlling: true }),
  ]);
  return Promise.all([a.connect(b.local), b.connect(a.local)]);
}

export async function benchDtls(): Promise<DtlsBench | { skipped: string }> {
  let alice: DeviceIdentity;
  let bob: DeviceIdentity;
  try {
    [alice, bob] = [identity("alice"), identity("bob")];
  } catch (e) {
    return { skipped: `no shared vectors: ${(e as Error).message}` };
  }
  const times: number[] = [];
  let last: [DtlsLink, DtlsLink] | undefined;
  for (let i = 0; i < RUNS; i++) {
    const [a, b] = await icePair();
    const t0 = performance.now();
    const links = await Promise.all([
      dtlsLink({ transport: a, role: "server", identity: alice, verifyPeer: () => undefined }),
      dtlsLink({ transport: b, role: "client", identity: bob, verifyPeer: () => undefined }),
    ]);
    times.push(performance.now() - t0);
    if (last) last.forEach((l) => l.close());
    last = links;
  }
  const [server, client] = last!;
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  server.on("message", () => {
    if (!received++) firstAt = performance.now();
    lastAt = performance.now();
  });
  const payload = new Uint8Array(MESSAGE_BYTES).fill(0x5a);
  for (let sent = 0; sent < MESSAGES; sent++) {
    client.send(payload);
    if (sent % 32 === 31) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 500));
  server.close();
  client.close();
  const seconds = (lastAt - firstAt) / 1000;
  return {
    handshake: summarize(times),
    throughputMBps: Math.round((received * MESSAGE_BYTES) / 1024 / 1024 / seconds),
    lossPercent: Math.round(((MESSAGES - received) / MESSAGES) * 1000) / 10,
  };
}
