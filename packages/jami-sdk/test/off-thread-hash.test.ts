import { createHash, randomBytes } from "node:crypto";
import { inThreadHash, offThreadHash } from "../src/features/off-thread-hash.js";

describe("a download's hash on the hashing thread", () => {
  it("is the same SHA3-512 as on this thread, over many chunks and two hashes at once, and the caller's chunks stay usable", async () => {
    const data = randomBytes(20 << 20);
    const reference = createHash("sha3-512").update(data).digest("hex");
    const a = offThreadHash("sha3-512");
    const b = offThreadHash("sha3-512");
    const local = inThreadHash("sha3-512");
    let waited = 0;
    for (let at = 0; at < data.length; at += 65535) {
      const chunk = data.subarray(at, at + 65535);
      // over 8 MiB in flight the caller waits: 20 MiB at once cannot all be queued
      const pending = a.update(chunk);
      if (pending) {
        waited++;
        await pending;
      }
      await b.update(chunk);
      await local.update(chunk);
      expect(chunk.byteLength).toBe(Math.min(65535, data.length - at)); // not detached by the move to the worker
    }
    expect(waited).toBeGreaterThan(0);
    expect(await Promise.all([a.digest(), b.digest(), local.digest()])).toEqual([reference, reference, reference]);
  });

  it("a hash dropped halfway leaves the others right, and a finished one refuses more", async () => {
    const dropped = offThreadHash("sha3-512");
    const kept = offThreadHash("sha3-512");
    await dropped.update(new Uint8Array([1, 2, 3]));
    await kept.update(new Uint8Array([4, 5, 6]));
    dropped.dispose();
    expect(await kept.digest()).toBe(
      createHash("sha3-512")
        .update(new Uint8Array([4, 5, 6]))
        .digest("hex"),
    );
    expect(() => kept.update(new Uint8Array([7]))).toThrow();
    // once none is left the thread is ended; the next hash starts it again
    const again = offThreadHash("sha3-512");
    expect(await again.digest()).toBe(createHash("sha3-512").digest("hex"));
  });
});
