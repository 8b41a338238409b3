import { decodeMsgpack, encodeMsgpack } from "jami-core";
import { InfoHash, publicKeyId, Value } from "jami-dht";
import { PublicKey, type JamiId, type PrivateKey } from "jami-identity";

/** A device of an account as its announcement names it. */
export interface AnnouncedDevice {
  /** SHA-1 of the device key (13.7's device short id). */
  shortId: InfoHash;
  /** The device key (`pk`, written by every daemon since ~2019); absent in very old announcements. */
  publicKey?: PublicKey;
  /** The DHT value id, which changes with each publication. */
  valueId: bigint;
}

/**
 * jamid's DeviceAnnouncement (spec §3.2): type 0, signed by the **account** key, data = msgpack
 * `{dev: bin(20) device short id, pk: bin(device SPKI)}`, seq 0, no user type.
 */
export function createDeviceAnnouncement(accountKey: PrivateKey, deviceKey: PublicKey): Value {
  const data = encodeMsgpack({ dev: publicKeyId(deviceKey).bytes, pk: deviceKey.spki });
  return new Value({ type: 0, data }).sign(accountKey, 0);
}

/**
 * Reads a value found at a Jami ID: a device announcement only if it is signed by that account's key and its
 * signature verifies (forEachDevice's checks); anything else (CRLs, forgeries, garbage) gives `undefined`.
 */
export function readDeviceAnnouncement(value: Value, jamiId: JamiId): AnnouncedDevice | undefined {
  if (!value.owner || !value.verifySignature()) return undefined;
  if (!publicKeyId(value.owner).equals(new InfoHash(jamiId.bytes))) return undefined;
  let map: unknown;
  try {
    map = decodeMsgpack(value.data);
  } catch {
    return undefined;
  }
  if (typeof map !== "object" || map === null || Array.isArray(map) || map instanceof Uint8Array || map instanceof Map) return undefined;
  const { dev, pk } = map as Record<string, unknown>;
  if (!(dev instanceof Uint8Array) || dev.length !== 20) return undefined;
  let publicKey: PublicKey | undefined;
  if (pk instanceof Uint8Array) {
    try {
      publicKey = PublicKey.fromSpki(pk);
    } catch {
      return undefined;
    }
    if (!publicKeyId(publicKey).equals(new InfoHash(dev))) return undefined;
  }
  return { shortId: new InfoHash(dev), publicKey, valueId: value.id };
}
