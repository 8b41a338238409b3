// A three-node DHT on 127.0.0.1 that real OpenDHT nodes could join: plain, signed and encrypted values,
// a listen, and the same DHT reached over HTTP through a proxy.
import { DhtNode, DhtProxyClient, DhtProxyServer, InfoHash, SecureDht, Value } from "jami-dht";
import { PrivateKey } from "jami-identity";

const text = (v: Value) => new TextDecoder().decode(v.data);

async function main(): Promise<void> {
  const seed = await DhtNode.create({ host: "127.0.0.1", port: 0 });
  const bootstrap = [`127.0.0.1:${seed.addresses[0]!.port}`];
  const alice = await DhtNode.create({ host: "127.0.0.1", port: 0, bootstrap });
  const bob = await DhtNode.create({ host: "127.0.0.1", port: 0, bootstrap });
  await Promise.all([alice.bootstrap(), bob.bootstrap()]);
  console.log(`network: ${seed.id} + 2 nodes`);

  // Plain values: anyone can read them.
  const key = InfoHash.get("hello");
  await alice.put(key, new Value({ data: "hello, DHT", userType: "text/plain" }));
  for await (const v of bob.get(key)) console.log(`bob got: ${text(v)}`);

  // A listen sees new values as they are put.
  const sub = bob.listen(InfoHash.get("news"));
  sub.on("value", (v) => console.log(`bob heard: ${text(v)}`));
  await new Promise((r) => setTimeout(r, 200));
  await alice.put(InfoHash.get("news"), new Value({ data: "breaking" }));
  await new Promise((r) => setTimeout(r, 300));
  sub.cancel();

  // Signed and encrypted values need identities (RSA keys; 2048 bits keeps the example quick).
  const [aliceKey, bobKey] = await Promise.all([PrivateKey.generate(2048), PrivateKey.generate(2048)]);
  const aliceSecure = new SecureDht(alice, { key: aliceKey });
  const bobSecure = new SecureDht(bob, { key: bobKey });
  await aliceSecure.putSigned(InfoHash.get("signed"), new Value({ data: "signed by alice" }));
  const [signed] = await bobSecure.getAll(InfoHash.get("signed"));
  console.log(`signed value from ${signed!.ownerId}: ${text(signed!)} (verified)`);
  await aliceSecure.putEncrypted(InfoHash.get("secret"), new Value({ data: "for bob only" }), bobKey.publicKey);
  console.log(`bob decrypts: ${(await bobSecure.getAll(InfoHash.get("secret"))).map(text).join()}`);
  console.log(`others see: ${(await seed.getAll(InfoHash.get("secret"))).map((v) => (v.isEncrypted ? "<encrypted>" : text(v))).join()}`);

  // The same DHT over HTTP: an OpenDHT-compatible proxy and its client.
  const proxy = await DhtProxyServer.start({ node: seed, port: 0 });
  const viaHttp = new DhtProxyClient({ url: proxy.url });
  await viaHttp.put(InfoHash.get("http"), new Value({ data: "posted over HTTP" }));
  console.log(`alice reads: ${(await alice.getAll(InfoHash.get("http"))).map(text).join()}`);

  await viaHttp.close();
  await proxy.close();
  await Promise.all([seed.close(), alice.close(), bob.close()]);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
