/**
 * TCP simultaneous open (RFC 6544 `tcptype so`) between two agents in a network namespace of this test's own, where
 * nftables holds one side in SYN_SENT so that the two SYNs really cross (loopback alone never lets them).
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

jest.setTimeout(60_000);
const NETNS = "jamits-ice-so";
const REPO = resolve(__dirname, "../../..");

describe("ICE-TCP simultaneous open", () => {
  beforeAll(() => {
    try {
      execFileSync("ip", ["netns", "del", NETNS], { stdio: "ignore" });
    } catch {
      // not there: fine
    }
  });
  afterAll(() => {
    execFileSync("ip", ["netns", "del", NETNS], { stdio: "ignore" });
  });

  it("two agents offering only so candidates link through a crossed SYN", () => {
    execFileSync("ip", ["netns", "add", NETNS]);
    execFileSync("ip", ["-n", NETNS, "link", "set", "lo", "up"]);
    const out = execFileSync("ip", ["netns", "exec", NETNS, process.execPath, "--import", "tsx", "test-support/ice-simultaneous-open.ts"], {
      cwd: REPO,
      encoding: "utf8",
      timeout: 50_000,
    });
    const result = JSON.parse(out.trim().split("\n").pop()!) as {
      candidates: string[];
      ports: number[];
      remotes: number[];
      droppedSyns: number;
      data: string;
      error?: string;
    };
    expect(result.error).toBeUndefined();
    expect(result.candidates).toHaveLength(2);
    for (const c of result.candidates) expect(c).toMatch(/ TCP \d+ 127\.0\.0\.1 \d+ typ host tcptype so$/);
    // One TCP connection between the two so ports, each side's peer being the other's port.
    expect(result.remotes).toEqual([result.ports[1], result.ports[0]]);
    // A's SYNs to B were dropped: the connection came from B's SYN meeting A's pending connect.
    expect(result.droppedSyns).toBeGreaterThan(0);
    expect(result.data).toBe("simultaneous");
  });
});
