import { encodeMsgpack } from "jami-core";
import createDebug from "debug";
import { certificatePemOf, DhtError, InfoHash, Value, ValueType, type DhtClient, type PutOptions } from "jami-dht";
import {
  Certificate,
  deviceChainPem,
  verifyDeviceChain,
  type DeviceId,
  type DeviceIdentity,
  type JamiId,
  type PrivateKey,
  type VerifiedDevice,
} from "jami-identity";
import { createDeviceAnnouncement, readDeviceAnnouncement } from "./device-announcement.js";
import { AccountError } from "../errors.js";
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
  if (!jamiId) throw new AccountError("INVALID_ARGUMENT", "device identity has no account certificate");
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

/** A device by its 64-hex id, through today's certificate key (SHA-1 of the 32-byte id); 13.7 devices are not there. */
export async function findDeviceChainById(dht: DhtClient, deviceId: DeviceId, options: { signal?: AbortSignal } = {}): Promise<VerifiedDevice> {
  const signal = options.signal;
  for await (const v of dht.get(JamiDhtKeys.deviceCertificate(deviceId), { signal })) {
    if (v.type !== ValueType.Certificate) continue;
    const pem = certificatePemOf(v);
    if (!pem) continue;
    try {
      const verified = verifyDeviceChain(Certificate.chainFromPem(pem));
      if (verified.deviceId.equals(deviceId)) return verified;
    } catch (e) {
      log("certificate at %s refused: %s", deviceId, (e as Error).message);
    }
  }
  throw new DhtError("NOT_FOUND", `no certificate of device ${deviceId} on the DHT (a 13.7 device is found through its Jami ID)`);
}

/**
 * jamid's `forEachDevice`: each device announced at a Jami ID whose announcement is signed by that account and
 * whose certificate chain, found on the DHT (short-id key, then long-id key), verifies up to that Jami ID, handed
 * to `onDevice` as soon as it is verified (a slow or dead DHT node does not hold up the first devices). Forged or
 * unverifiable announcements are skipped (logged at debug). Resolves when the search is over.
 */
export async function forEachDevice(
  dht: DhtClient,
  jamiId: JamiId,
  onDevice: (device: VerifiedDevice) => void | Promise<void>,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  const signal = options.signal;
  const seen = new Set<string>();
  const pending: Promise<void>[] = [];
  for await (const v of dht.get(JamiDhtKeys.account(jamiId), { signal })) {
    const a = readDeviceAnnouncement(v, jamiId);
    if (!a) {
      log("ignored a value at %s that is not a valid device announcement", jamiId);
      continue;
    }
    if (seen.has(a.shortId.toString())) continue;
    seen.add(a.shortId.toString());
    const certKeys = a.publicKey ? JamiDhtKeys.certificates(a.publicKey) : undefined;
    pending.push(
      findDeviceChain(dht, a.shortId, { keys: certKeys ? [certKeys.legacy, certKeys.current] : undefined, jamiId, signal }).then(
        (device) => onDevice(device),
        (e: Error) => log("device %s of %s refused: %s", a.shortId, jamiId, e.message),
      ),
    );
  }
  await Promise.all(pending);
}

/** The verified devices of an account (see `forEachDevice`), once the search is over. */
export async function findDevices(dht: DhtClient, jamiId: JamiId, options: { signal?: AbortSignal } = {}): Promise<VerifiedDevice[]> {
  const found: VerifiedDevice[] = [];
  await forEachDevice(dht, jamiId, (d) => void found.push(d), options);
  return found;
}
