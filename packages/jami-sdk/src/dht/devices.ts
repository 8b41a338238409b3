import createDebug from "debug";
import { certificatePemOf, DhtError, encodeMsgpack, Value, ValueType, type DhtClient, type InfoHash, type PutOptions } from "jami-dht";
import { Certificate, deviceChainPem, verifyDeviceChain, type DeviceIdentity, type JamiId, type PrivateKey, type VerifiedDevice } from "jami-identity";
import { createDeviceAnnouncement, readDeviceAnnouncement, type AnnouncedDevice } from "./device-announcement.js";
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
 * The verified chain of the device whose certificate is published at one of `keys` (jamid's findCertificate
 * plus the device checks): the first type-8 value whose chain verifies (up to `jamiId` when given) and whose
 * device key id is `deviceKeyId`.
 */
export async function findDeviceChain(
  dht: DhtClient,
  deviceKeyId: InfoHash,
  options: { keys?: InfoHash[]; jamiId?: JamiId; signal?: AbortSignal } = {},
): Promise<VerifiedDevice> {
  let reason = "no certificate found";
  for (const key of options.keys ?? [deviceKeyId]) {
    for await (const v of dht.get(key, { signal: options.signal })) {
      if (v.type !== ValueType.Certificate) continue;
      const pem = certificatePemOf(v);
      if (!pem) continue;
      try {
        const verified = verifyDeviceChain(Certificate.chainFromPem(pem), { expectedJamiId: options.jamiId });
        if (Buffer.compare(verified.deviceShortId.bytes, deviceKeyId.bytes) === 0) return verified;
        reason = "certificate of another key";
      } catch (e) {
        reason = (e as Error).message;
      }
    }
  }
  throw new DhtError("NOT_FOUND", `no valid device chain for ${deviceKeyId}: ${reason}`);
}

/**
 * jamid's `forEachDevice`: the devices announced at a Jami ID whose announcement is signed by that account and
 * whose certificate chain, found on the DHT (short-id key, then long-id key), verifies up to that Jami ID.
 * Forged or unverifiable announcements are skipped (logged at debug).
 */
export async function findDevices(dht: DhtClient, jamiId: JamiId, signal?: AbortSignal): Promise<VerifiedDevice[]> {
  const announced = new Map<string, AnnouncedDevice>();
  for await (const v of dht.get(JamiDhtKeys.account(jamiId), { signal })) {
    const device = readDeviceAnnouncement(v, jamiId);
    if (device) announced.set(device.shortId.toString(), device);
    else log("ignored a value at %s that is not a valid device announcement", jamiId);
  }
  const found = await Promise.all(
    [...announced.values()].map(async (a) => {
      const certKeys = a.publicKey ? JamiDhtKeys.certificates(a.publicKey) : undefined;
      try {
        return await findDeviceChain(dht, a.shortId, { keys: certKeys ? [certKeys.legacy, certKeys.current] : undefined, jamiId, signal });
      } catch (e) {
        log("device %s of %s refused: %s", a.shortId, jamiId, (e as Error).message);
        return undefined;
      }
    }),
  );
  return found.filter((d): d is VerifiedDevice => d !== undefined);
}
