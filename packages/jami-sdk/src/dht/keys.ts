import { InfoHash } from "jami-dht";
import type { DeviceId, DeviceShortId, JamiId, PublicKey } from "jami-identity";

/** Where jamid keeps what (spec §3.1, §3.8): 13.7 uses the device short id, today's daemon the 32-byte id. */
export const JamiDhtKeys = {
  /** Device announcements and CRLs: the Jami ID's 20 bytes, not re-hashed. */
  account(jamiId: JamiId): InfoHash {
    return new InfoHash(jamiId.bytes);
  },
  /** Trust requests, IM messages, device sync for one device (unchanged since 13.7). */
  inbox(device: DeviceShortId): InfoHash {
    return InfoHash.get(`inbox:${device.toString()}`);
  },
  /** Connection requests: 13.7's key (short id) and today's (64-hex device id). */
  peer(device: DeviceShortId | DeviceId): InfoHash {
    return InfoHash.get(`peer:${device.toString()}`);
  },
  /** Device certificate chains: SHA-1(SPKI) for 13.7, SHA-1(SHA-256(SPKI)) for OpenDHT ≥ 3.5. */
  certificates(devicePublicKey: PublicKey): { legacy: InfoHash; current: InfoHash } {
    return { legacy: InfoHash.get(devicePublicKey.spki), current: JamiDhtKeys.deviceCertificate(devicePublicKey.deviceId) };
  },
  /** Where today's daemons find a device's certificate from its 32-byte id alone: SHA-1 of that id. */
  deviceCertificate(device: DeviceId): InfoHash {
    return InfoHash.get(device.bytes);
  },
};
