import { InfoHash, MemoryDht, Value } from "jami-dht";

const key = InfoHash.get("memory-dht");

describe("MemoryDht (an in-process DHT for tests)", () => {
  it("clients share storage; listeners get what is there and what comes; the highest seq of a value wins", async () => {
    const dht = new MemoryDht();
    const [a, b] = [dht.client(), dht.client()];
    await a.put(key, new Value({ id: 1n, data: "first" }));
    const sub = b.listen(key);
    const seen: string[] = [];
    const both = new Promise<void>((resolve) =>
      sub.on("value", (v) => {
        seen.push(Buffer.from(v.data).toString());
        if (seen.length === 2) resolve();
      }),
    );
    await a.put(key, new Value({ id: 2n, data: "second" }));
    await both;
    expect(seen.sort()).toEqual(["first", "second"]);
    const versioned = (seq: number, data: string): Value => Object.assign(new Value({ id: 1n, data }), { seq });
    await a.put(key, versioned(3, "newer"));
    await expect(a.put(key, versioned(2, "older"))).rejects.toMatchObject({ code: "REMOTE_ERROR" });
    expect((await b.getAll(key)).map((v) => Buffer.from(v.data).toString()).sort()).toEqual(["newer", "second"]);
    await b.close();
    expect(sub.cancelled).toBe(true);
    await expect(b.getAll(key)).rejects.toMatchObject({ code: "NOT_RUNNING" });
    await a.close();
  });
});
