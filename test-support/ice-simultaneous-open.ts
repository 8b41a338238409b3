/**
 * Run inside a network namespace of its own (root): two ICE-TCP agents offering only `tcptype so` candidates on
 * 127.0.0.1 link to each other. An nftables rule drops A's SYNs to B, so A's connect waits in SYN_SENT until B's
 * SYN reaches it: a genuine TCP simultaneous open (RFC 793 §3.4). Prints one JSON line.
 */
import { execFileSync } from "node:child_process";
import { formatCandidate, IceTcpAgent } from "jami-ice";

async function main(): Promise<void> {
  const [a, b] = await Promise.all([
    IceTcpAgent.create({ controlling: false, addresses: ["127.0.0.1"], tcpTypes: ["so"] }),
    IceTcpAgent.create({ controlling: true, addresses: ["127.0.0.1"], tcpTypes: ["so"] }),
  ]);
  const [pa, pb] = [a.local.candidates[0]!.port, b.local.candidates[0]!.port];
  const rules = [
    "table inet jamits_so {",
    "  chain out {",
    "    type filter hook output priority 0;",
    `    tcp sport ${pa} tcp dport ${pb} tcp flags & (syn | ack) == syn counter drop`,
    "  }",
    "}",
  ].join("\n");
  execFileSync("nft", ["-f", "-"], { input: rules });
  const [x, y] = await Promise.all([a.connect(b.local), b.connect(a.local)]);
  const got = new Promise<string>((r) => y.once("data", (d: Buffer) => r(d.toString())));
  x.write("simultaneous");
  const data = await got;
  const counter = /packets (\d+)/.exec(execFileSync("nft", ["list", "table", "inet", "jamits_so"], { encoding: "utf8" }));
  console.log(
    JSON.stringify({
      candidates: [...a.local.candidates, ...b.local.candidates].map(formatCandidate),
      ports: [pa, pb],
      remotes: [x.remoteAddress.port, y.remoteAddress.port],
      droppedSyns: Number(counter?.[1] ?? 0),
      data,
    }),
  );
  x.destroy();
  y.destroy();
  a.close();
  b.close();
}

main().catch((e) => {
  console.log(JSON.stringify({ error: (e as Error).message }));
  process.exitCode = 1;
});
