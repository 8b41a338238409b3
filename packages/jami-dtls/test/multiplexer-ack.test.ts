import { decodeMsgpackPrefix, decodeMsgpackSequence, encodeMsgpack } from "jami-core";
import { once } from "node:events";
import type { Socket } from "node:net";

import { MultiplexedSocket, PROTOCOL_CHANNEL, type Channel } from "jami-dtls";
import { tcpPair } from "./helpers.js";

/**
 * Our TCP acknowledgement goes out at once where the peer's next write waits for it (Nagle on its side, delayed ACKs
 * on ours: 40 ms each time): an empty frame on the protocol channel, which jamid and we ignore.
 */

/** Every frame a raw peer reads, in order. */
function frameLog(raw: Socket): { next(): Promise<[number, Uint8Array]> } {
  let buffer = Buffer.alloc(0);
  const got: Array<[number, Uint8Array]> = [];
  let wake: (() => void) | undefined;
  raw.on("data", (d: Buffer) => {
    buffer = Buffer.concat([buffer, d]);
    for (let item = decodeMsgpackPrefix(buffer); item; item = decodeMsgpackPrefix(buffer)) {
      got.push(item.value as [number, Uint8Array]);
      buffer = buffer.subarray(item.length);
    }
    wake?.();
  });
  return {
    async next() {
      while (got.length === 0) await new Promise<void>((r) => (wake = r));
      return got.shift()!;
    },
  };
}

const channelOf = (m: MultiplexedSocket): Promise<Channel> => new Promise((r) => m.once("channel", r));
const isAcknowledgement = ([channel, payload]: [number, Uint8Array]): boolean => channel === PROTOCOL_CHANNEL && payload.length === 0;
const header = (channel: number, length: number): Buffer => Buffer.from([0x92, channel, 0xc5, length >> 8, length & 0xff]);

describe("acknowledging at once where the peer waits for it", () => {
  let ours: Socket;
  let raw: Socket;
  let mux: MultiplexedSocket;
  let peer: ReturnType<typeof frameLog>;
  let channel: Channel;
  beforeEach(async () => {
    [ours, raw] = await tcpPair();
    peer = frameLog(raw);
    mux = new MultiplexedSocket(ours, () => true);
    const incoming = channelOf(mux);
    raw.write(encodeMsgpack([0, encodeMsgpack(["git://x/y", 9, 0])]));
    channel = await incoming;
    expect(decodeMsgpackSequence((await peer.next())[1])).toEqual([{ v: 1 }]);
    expect(decodeMsgpackSequence((await peer.next())[1])).toEqual([["git://x/y", 9, 1]]);
  });
  afterEach(() => {
    mux.close();
    raw.destroy();
  });

  it("acknowledgeNow writes one empty frame on the protocol channel", async () => {
    channel.acknowledgeNow();
    expect(isAcknowledgement(await peer.next())).toBe(true);
  });

  it("a frame header that came alone (jamid writes frames of 8 KiB and more as header, then payload) is acknowledged", async () => {
    const data = new Promise<Buffer>((r) => channel.once("data", r));
    raw.write(header(9, 9000));
    expect(isAcknowledgement(await peer.next())).toBe(true);
    raw.write(Buffer.alloc(9000, 5));
    expect((await data).length).toBe(9000);
  });

  it("a whole frame is not: nothing comes before the answer to a later beacon", async () => {
    const data = new Promise<Buffer>((r) => channel.once("data", r));
    raw.write(Buffer.concat([header(9, 9000), Buffer.alloc(9000, 5)]));
    expect((await data).length).toBe(9000);
    await new Promise((r) => setImmediate(r)); // where the check for a lone header runs
    raw.write(encodeMsgpack([PROTOCOL_CHANNEL, encodeMsgpack({ p: true })]));
    const next = await peer.next();
    expect(next[0]).toBe(PROTOCOL_CHANNEL);
    expect(decodeMsgpackSequence(next[1])).toEqual([{ p: false }]);
  });

  it("our multiplexer ignores the empty protocol frame: the link and its channels stay up", async () => {
    const [a, b] = await tcpPair();
    const left = new MultiplexedSocket(a, () => true);
    const right = new MultiplexedSocket(b);
    let closed = false;
    left.once("close", () => (closed = true));
    right.acknowledgeNow();
    right.acknowledgeNow();
    const incoming = channelOf(left);
    const opened = await right.openChannel("sip");
    const theirs = await incoming;
    const got = once(theirs, "data") as Promise<[Buffer]>;
    opened.write("still here");
    expect((await got)[0].toString()).toBe("still here");
    expect(closed).toBe(false);
    right.close();
    left.close();
  });
});
