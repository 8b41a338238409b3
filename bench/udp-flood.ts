/**
 * Sends DHT requests (ping or get) to one node at a fixed rate for a while and counts the replies.
 * Runs as its own process so the load does not share an event loop with the node under test.
 *   node --import tsx bench/udp-flood.ts HOST:PORT ping|get RATE DURATION_MS [KEY_HEX]
 * Prints {"sent", "replies"}.
 */
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { encodeMsgpack } from "jami-core";

const [target = "", kind = "ping", rateText = "1000", durationText = "1000", keyHex = "00".repeat(20)] = process.argv.slice(2);
const [host = "127.0.0.1", portText = "4222"] = target.split(":");
const rate = Number(rateText);
const duration = Number(durationText);
const id = randomBytes(20);
const key = Buffer.from(keyHex, "hex");

const socket = createSocket("udp4");
socket.bind(0, "127.0.0.1", () => {
  socket.setRecvBufferSize(8 << 20);
  socket.setSendBufferSize(8 << 20);
  let sent = 0;
  let replies = 0;
  socket.on("message", () => replies++);
  const started = performance.now();
  const tick = (): void => {
    const due = Math.min((rate * duration) / 1000, Math.floor(((performance.now() - started) * rate) / 1000));
    while (sent < due) {
      const t = ++sent;
      const a = kind === "get" ? { id, h: key } : { id };
      socket.send(encodeMsgpack({ a, q: kind, t, y: "q", v: "RNG1" }), Number(portText), host);
    }
    if (sent < (rate * duration) / 1000) setImmediate(tick);
    else
      setTimeout(() => {
        console.log(JSON.stringify({ sent, replies }));
        socket.close();
      }, 1000);
  };
  tick();
});
