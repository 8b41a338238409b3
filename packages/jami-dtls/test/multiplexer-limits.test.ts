import { decodeMsgpackPrefix, decodeMsgpackSequence, encodeMsgpack } from "jami-core";
import { once } from "node:events";
import type { Socket } from "node:net";

import { MAX_OPEN_CHANNELS, MAX_PENDING_CHANNEL_REQUESTS, MultiplexedSocket, type Channel } from "jami-dtls";
import { tcpPair } from "./helpers.js";

const closeOf = (m: MultiplexedSocket): Promise<[Error | undefined]> => new Promise((r) => m.once("close", (e) => r([e])));
const channelOf = (m: MultiplexedSocket): Promise<[Channel]> => new Promise((r) => m.once("channel", (c) => r([c])));

/** The frames a raw peer reads (channel, payload), as a queue. */
function frames(raw: Socket): { next(channel: number): Promise<Uint8Array> } {
  let buffer = Buffer.alloc(0);
  const waiting: Array<() => void> = [];
  raw.on("data", (d: Buffer) => {
    buffer = Buffer.concat([buffer, d]);
    for (const w of waiting.splice(0)) w();
  });
  const got: Array<[number, Uint8Array]> = [];
  return {
    async next(channel) {
      for (;;) {
        for (let item = decodeMsgpackPrefix(buffer); item; item = decodeMsgpackPrefix(buffer)) {
          got.push(item.value as [number, Uint8Array]);
          buffer = buffer.subarray(item.length);
        }
        const i = got.findIndex(([c]) => c === channel);
        if (i >= 0) return got.splice(i, 1)[0]![1];
        await new Promise<void>((r) => waiting.push(r));
      }
    },
  };
}

describe("the multiplexer against a hostile peer", () => {
  let ours: Socket;
  let raw: Socket;
  let mux: MultiplexedSocket;
  beforeEach(async () => {
    [ours, raw] = await tcpPair();
    mux = new MultiplexedSocket(ours);
  });
  afterEach(() => {
    mux.close();
    raw.destroy();
  });

  it("a frame announcing a 4 GiB payload closes the link with PROTOCOL at its header, before any payload is buffered", async () => {
    const closed = closeOf(mux);
    raw.write(Buffer.from([0x92, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff]));
    const [error] = await closed;
    expect(error).toMatchObject({ code: "PROTOCOL" });
    expect(error?.message).toMatch(/4294967295 bytes announced/);
  });

  it("a frame one byte over the channel frame limit is refused; one at the limit is delivered", async () => {
    mux.setRequestHandler(() => true);
    const incoming = channelOf(mux);
    raw.write(encodeMsgpack([0, encodeMsgpack(["sip", 7, 0])]));
    const [channel] = await incoming;
    const channelError = new Promise<Error>((r) => channel.once("error", r));
    const at = Buffer.alloc(65535, 1);
    const received = once(channel, "data") as Promise<[Buffer]>;
    raw.write(Buffer.concat([Buffer.from([0x92, 0x07, 0xc5, 0xff, 0xff]), at]));
    expect((await received)[0].length).toBe(65535);
    const closed = closeOf(mux);
    raw.write(Buffer.from([0x92, 0x07, 0xc6, 0x00, 0x01, 0x00, 0x00]));
    expect((await closed)[0]).toMatchObject({ code: "PROTOCOL" });
    expect(await channelError).toMatchObject({ code: "PROTOCOL" });
  });

  it("a frame whose header is valid msgpack but not jamid's layout (channel as uint32) is refused at once", async () => {
    const closed = closeOf(mux);
    // [channel as uint32, bin8 of 2 MiB announced later]: the old generic path re-decoded the buffer on every chunk.
    raw.write(Buffer.from([0x92, 0xce, 0x00, 0x00, 0x00, 0x07, 0xc6, 0x00, 0x20, 0x00, 0x00]));
    const [error] = await closed;
    expect(error).toMatchObject({ code: "PROTOCOL" });
    expect(error?.message).toMatch(/channel encoded as 0xce/);
  });

  it("a payload as str instead of bin is refused", async () => {
    const closed = closeOf(mux);
    raw.write(Buffer.from([0x92, 0x07, 0xa3, 0x61, 0x62, 0x63]));
    expect((await closed)[0]).toMatchObject({ code: "PROTOCOL" });
  });

  it("channel requests past the pending limit are declined while the handler decides; a genuine one is accepted after", async () => {
    const decisions: Array<(ok: boolean) => void> = [];
    mux.setRequestHandler(() => new Promise<boolean>((r) => decisions.push(r)));
    const peer = frames(raw);
    for (let id = 1; id <= MAX_PENDING_CHANNEL_REQUESTS + 1; id++) raw.write(encodeMsgpack([0, encodeMsgpack(["sip", id, 0])]));
    const answer = decodeMsgpackSequence(await peer.next(0))[0] as [string, number, number];
    expect(answer).toEqual(["sip", MAX_PENDING_CHANNEL_REQUESTS + 1, 2]);
    expect(decisions).toHaveLength(MAX_PENDING_CHANNEL_REQUESTS);
    // The same id asked again while it is being decided is declined too.
    raw.write(encodeMsgpack([0, encodeMsgpack(["sip", 1, 0])]));
    expect(decodeMsgpackSequence(await peer.next(0))[0]).toEqual(["sip", 1, 2]);
    decisions[0]!(true);
    expect(decodeMsgpackSequence(await peer.next(0))[0]).toEqual(["sip", 1, 1]);
  });

  it(`no more than ${MAX_OPEN_CHANNELS} channels are open on one link`, async () => {
    mux.setRequestHandler(() => true);
    const peer = frames(raw);
    const answers: number[] = [];
    for (let id = 1; id <= MAX_OPEN_CHANNELS + 1; id++) {
      raw.write(encodeMsgpack([0, encodeMsgpack(["sip", id, 0])]));
      answers.push((decodeMsgpackSequence(await peer.next(0))[0] as [string, number, number])[2]);
    }
    expect(answers.slice(0, MAX_OPEN_CHANNELS).every((s) => s === 1)).toBe(true);
    expect(answers[MAX_OPEN_CHANNELS]).toBe(2);
  });

  it("a channel whose reader falls behind pauses the link (back-pressure to the peer); reading resumes it, nothing lost", async () => {
    mux.setRequestHandler(() => true);
    const incoming = channelOf(mux);
    raw.write(encodeMsgpack([0, encodeMsgpack(["sip", 9, 0])]));
    const [channel] = await incoming;
    const total = 8 * 1024 * 1024;
    const payload = Buffer.alloc(65535);
    for (let sent = 0, i = 0; sent < total; sent += payload.length, i++) {
      payload.fill(i & 0xff);
      raw.write(Buffer.concat([Buffer.from([0x92, 0x09, 0xc5, 0xff, 0xff]), payload]));
    }
    // Nobody reads the channel: the link stops reading once the channel holds its high-water mark.
    while (!ours.isPaused()) await new Promise((r) => setTimeout(r, 10));
    expect(channel.readableLength).toBeLessThanOrEqual(256 * 1024 + 65535);
    // Positive control: a reader drains everything the peer sent, in order.
    let received = 0;
    let inOrder = true;
    channel.on("data", (d: Buffer) => {
      for (let k = 0; k < d.length; k += 4096) if (d[k] !== (Math.floor((received + k) / 65535) & 0xff)) inOrder = false;
      received += d.length;
    });
    const expected = Math.ceil(total / 65535) * 65535;
    while (received < expected) await new Promise((r) => setTimeout(r, 10));
    expect(received).toBe(expected);
    expect(inOrder).toBe(true);
    expect(ours.isPaused()).toBe(false);
  });
});
