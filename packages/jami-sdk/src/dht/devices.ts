import createDebug from "debug";
import { certificatePemOf, encodeMsgpack, Value, ValueType, type DhtClient, type PutOptions } from "jami-dht";
import { Certificate, deviceChainPem, verifyDeviceChain, type DeviceIdentity, type JamiId, type PrivateKey, type VerifiedDevice } from "jami-identity";
import { createDeviceAnnouncement, readDeviceAnnouncement } from "./device-announcement.js";
import { JamiDhtKeys } from "./keys.js";

const log = createDebug("jami:sdk:devices");

/** The certificate value a device publishes: type 8, id 1, data = msgpack bin(PEM chain device → account → CA). */
export function certificateValue(device: DeviceIdentity): Value {
  return new Value({ id: 1n, type: ValueType.Certificate, data: encodeMsgpack(Buffer.from(deviceChainPem(device))) });
}

/**
 * Makes a device visible as jamid does at start: its certificate chain at both certificate keys (13.7 and today's)
 * and the account-signed device announcement at the Jami ID, all permanent.
 */
export async function publishDevice(dht: DhtClient, accountKey: PrivateKey, device: DeviceIdentity, options: PutOptions = {}): Promise<void> {
  const jamiId = device.issuers[0]?.jamiId;
  if (!jamiId) throw new Error("device identity has no account certificate");
  const keys = JamiDhtKeys.certificates(device.key.publicKey);
  await Promise.all([
    dht.put(keys.legacy, certificateValue(device), { ...options, permanent: true }),
    dht.put(keys.current, certificateValue(device), { ...options, permanent: true }),
    dht.put(JamiDhtKeys.account(jamiId), createDeviceAnnouncement(accountKey, device.key.publicKey), { ...options, permanent: true }),
  ]);
}

/**
 * jamid's `forEachDevice`: the devices announced at a Jami ID whose announcement is signed by that account and
 * whose certificate chain, found on the DHT (short-id key, else long-id key), verifies up to that Jami ID.
 * Forged or unverifiable announcements are skipped (logged at debug).
 */
export async function findDevices(dht: DhtClient, jamiId: JamiId, signal?: AbortSignal): Promise<VerifiedDevice[]> {
  const out = new Map<string, VerifiedDevice>();
  const announcements = [];
  for await (const v of dht.get(JamiDhtKeys.account(jamiId), { signal })) {
    const device = readDeviceAnnouncement(v, jamiId);
    if (device) announcements.push(device);
    else log("ignored a value at %s that is not a valid device announcement", jamiId);
  }
  await Promise.all(
    announcements.map(async (a) => {
      if (out.has(a.shortId.toString())) return;
      const keys = a.publicKey ? JamiDhtKeys.certificates(a.publicKey) : undefined;
      for (const key of keys ? [keys.legacy, keys.current] : [a.shortId]) {
        for await (const v of dht.get(key, { signal })) {
          if (v.type !== ValueType.Certificate) continue;
          try {
            const pem = certificatePemOf(v);
            if (!pem) continue;
            const chain = Certificate.chainFromPem(pem);
            const verified = verifyDeviceChain(chain, { expectedJamiId: jamiId });
            if (!verified.deviceShortId.bytes.every((b, i) => b === a.shortId.bytes[i])) continue;
            out.set(a.shortId.toString(), verified);
            return;
          } catch (e) {
            log("refused certificate for device %s of %s: %s", a.shortId, jamiId, (e as Error).message);
          }
        }
      }
    }),
  );
  return [...out.values()];
}
