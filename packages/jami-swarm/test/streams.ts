import { Duplex, PassThrough } from "node:stream";

/** Two connected in-memory duplex streams (what a channel gives each side). */
export function duplexPair(): [Duplex, Duplex] {
  const aToB = new PassThrough();
  const bToA = new PassThrough();
  return [Duplex.from({ readable: bToA, writable: aToB }), Duplex.from({ readable: aToB, writable: bToA })];
}
