import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DhtNode } from "jami-dht";
import { Account, AccountError, MemoryStore, type AccountComponents } from "jami-sdk";
import { next } from "../../../test-support/events.js";
import { freeUdpPort } from "../../../test-support/ports.js";

const BITS = 2048;
const tmp = () => mkdtempSync(join(tmpdir(), "jami-lifecycle-"));

/** Whether a UDP port on 127.0.0.1 can be bound now (nothing else holds it). */
function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    socket.once("error", () => socket.close(() => resolve(false)));
    socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
  });
}

describe("Account lifecycle: all or nothing", () => {
  let seed: DhtNode;
  let network: { bootstrap: string[]; host: string; iceAddresses: string[] };
  beforeAll(async () => {
    seed = await DhtNode.create({ host: "127.0.0.1", port: 0 });
    network = { bootstrap: [`127.0.0.1:${seed.addresses[0]!.port}`], host: "127.0.0.1", iceAddresses: ["127.0.0.1"] };
  });
  afterAll(() => seed.close());

  it("a start that fails in a feature stops what it started and frees the port; the next start works", async () => {
    const port = await freeUdpPort();
    let failing = true;
    const calls: string[] = [];
    const account = await Account.create({
      dir: join(tmp(), "a"),
      bits: BITS,
      ...network,
      port,
      features: {
        flaky: () => ({
          start: async () => {
            calls.push("start");
            if (failing) throw new Error("flaky feature");
          },
          stop: async () => void calls.push("stop"),
        }),
      },
    });
    await expect(account.start()).rejects.toThrow("flaky feature");
    expect(account.isStarted).toBe(false);
    expect(await udpPortFree(port)).toBe(true);
    // Nothing half-started answers: the built-in features started before it were stopped with the node.
    await expect(account.devices.own()).rejects.toMatchObject({ code: "NOT_STARTED" });
    await expect(account.links.connect("00".repeat(20), "x")).rejects.toMatchObject({ code: "NOT_STARTED" });

    failing = false;
    const online = next(account, "online");
    await account.start();
    await online;
    expect(account.isStarted).toBe(true);
    expect(await udpPortFree(port)).toBe(false);
    expect(calls).toEqual(["start", "start"]); // a feature whose start failed is not stopped
    // Really listening: another account's trust request arrives.
    const other = await Account.create({ dir: join(tmp(), "b"), bits: BITS, ...network });
    await other.start();
    try {
      const request = next(account.contacts, "request");
      await other.contacts.add(account.jamiId);
      expect((await request)[0]).toMatchObject({ from: other.jamiId });
    } finally {
      await Promise.all([other.stop(), account.stop()]);
    }
    expect(calls).toEqual(["start", "start", "stop"]);
    expect(await udpPortFree(port)).toBe(true);
  });

  it("an aborted start leaves nothing bound; start and stop called together run one after the other", async () => {
    const port = await freeUdpPort();
    const account = await Account.create({ dir: join(tmp(), "c"), bits: BITS, ...network, port });
    await expect(account.start({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: "ABORTED" });
    expect(await udpPortFree(port)).toBe(true);

    const offline = next(account, "offline");
    const [first, second] = [account.start(), account.start()];
    await Promise.all([first, second]); // one node: a second bind of the port would have failed
    await account.stop();
    await offline;
    expect(await udpPortFree(port)).toBe(true);
    await account.start();
    await account.stop();
  });

  it("optional features: built from the components, typed on the account, started in order; bad names refused", async () => {
    const order: string[] = [];
    const greeter = (components: AccountComponents) => {
      components.links.handle("greet");
      return {
        jamiId: () => components.identity.jamiId.toString(),
        start: async () => void order.push("greeter"),
        stop: async () => void order.push("greeter stopped"),
      };
    };
    const account = await Account.create({ dir: join(tmp(), "d"), bits: BITS, store: new MemoryStore(), ...network, features: { greeter } });
    expect(account.greeter.jamiId()).toBe(account.jamiId);
    await account.start();
    await account.stop();
    expect(order).toEqual(["greeter", "greeter stopped"]);
    // The injected store took the account's state: no JSON file in its directory.
    expect(existsSync(join(account.identity.dir, "contacts.json"))).toBe(false);
    expect(existsSync(join(account.identity.dir, "devices.json"))).toBe(false);

    const error = await Account.load({ dir: account.identity.dir, features: { contacts: () => ({}) } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccountError);
    expect(error).toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("background failures reach the account's error event (when someone listens) and nothing crashes", async () => {
    // A known device of ours whose key is garbage: the DeviceSync to it cannot be encrypted.
    const store = new MemoryStore();
    await store.write("devices", { ["ab".repeat(32)]: { deviceId: "ab".repeat(32), shortId: "cd".repeat(20), name: "broken", publicKey: "AAAA" } });
    const account = await Account.create({ dir: join(tmp(), "e"), bits: BITS, store, ...network });
    await account.start();
    try {
      const failed = next(account, "error");
      await account.contacts.block("1f".repeat(20)); // a change: a DeviceSync goes to our other devices
      expect((await failed)[0]).toMatchObject({ feature: "devices", error: expect.any(Error) });
      // Nobody listening now (`next` listened once): logged, not thrown — stop() below waits for that sync.
      expect(account.listenerCount("error")).toBe(0);
      await account.contacts.block("2f".repeat(20));
    } finally {
      await account.stop();
    }
  });

  it("a feature's failure with nobody listening on the account is not thrown at the feature (EventEmitter would)", async () => {
    const account = await Account.create({
      dir: join(tmp(), "f"),
      bits: BITS,
      ...network,
      features: {
        probe: (c: AccountComponents) => ({ fail: (error: Error) => c.events.emit("failure", { feature: "probe", error }) }),
      },
    });
    expect(account.listenerCount("error")).toBe(0);
    expect(() => account.probe.fail(new Error("unheard"))).not.toThrow();
    const heard: unknown[] = [];
    account.on("error", (failure) => heard.push(failure));
    account.probe.fail(new Error("heard"));
    expect(heard).toEqual([{ feature: "probe", error: new Error("heard") }]);
  });
});
