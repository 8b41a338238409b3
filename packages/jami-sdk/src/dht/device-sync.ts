import { decodeMsgpack, encodeMsgpack, isMsgMap, type MsgValue, toHex, fromHex } from "jami-core";

/** DeviceSync travels as an encrypted user-data value (type 0) at the other device's `inbox:` key. */
export const DEVICE_SYNC_TYPE = 0;

/** A contact as jamid 13.7 syncs it (`Contact`, times in Unix seconds). */
export interface SyncedContact {
  added: number;
  removed: number;
  confirmed: boolean;
  banned: boolean;
  conversationId: string;
}

export interface SyncedTrustRequest {
  /** SPKI of the device that sent the request (may be empty if the sender did not know it). */
  device: Uint8Array;
  conversationId: string;
  /** Unix seconds. */
  received: number;
  payload: Uint8Array;
}

export interface SyncedDevice {
  /** 64-hex device id (SHA-256 of the SPKI); absent for 13.7's legacy `devices_known` entries. */
  deviceId?: string;
  /** 40-hex device short id (SHA-1 of the SPKI). */
  shortId: string;
  name: string;
}

/** jamid 13.7's DeviceSync (spec §3.5): what one device of an account tells the others. */
export interface DeviceSyncData {
  /** The sender's system_clock ticks (ns on Linux); a receiver drops anything not newer than the last one seen. */
  date: bigint;
  deviceName: string;
  devices: SyncedDevice[];
  /** Jami ID (40 hex) → contact. */
  peers: Record<string, SyncedContact>;
  /** Jami ID (40 hex) → pending request. */
  trustRequests: Record<string, SyncedTrustRequest>;
}

/** Msgpack map `{date, device_name, devices_known, devices, peers, trust_requests}` with binary ids as keys. */
export function encodeDeviceSync(sync: DeviceSyncData): Uint8Array {
  const devices = new Map<MsgValue, MsgValue>();
  const known = new Map<MsgValue, MsgValue>();
  for (const d of sync.devices) {
    known.set(fromHex(d.shortId), d.name);
    if (d.deviceId) devices.set(fromHex(d.deviceId), { name: d.name, sha1: fromHex(d.shortId) });
  }
  const peers = new Map<MsgValue, MsgValue>();
  for (const [id, c] of Object.entries(sync.peers)) {
    peers.set(fromHex(id), { added: c.added, removed: c.removed, confirmed: c.confirmed, banned: c.banned, conversationId: c.conversationId });
  }
  const requests = new Map<MsgValue, MsgValue>();
  for (const [id, r] of Object.entries(sync.trustRequests)) {
    requests.set(fromHex(id), { device: r.device, conversationId: r.conversationId, received: r.received, payload: r.payload });
  }
  return encodeMsgpack({
    date: sync.date,
    device_name: sync.deviceName,
    devices_known: known,
    devices,
    peers,
    trust_requests: requests,
  });
}

/** `undefined` when the bytes are not a DeviceSync map (other type-0 values share the inbox). */
export function decodeDeviceSync(data: Uint8Array): DeviceSyncData | undefined {
  let map: MsgValue;
  try {
    map = decodeMsgpack(data);
  } catch {
    return undefined;
  }
  return readDeviceSync(map);
}

/** A decoded msgpack value read as a DeviceSync map (the `ds` of a `sync://` SyncMsg); `undefined` when it is not one. */
export function readDeviceSync(map: MsgValue | undefined): DeviceSyncData | undefined {
  if (!isMsgMap(map)) return undefined;
  const date = integer(map.date);
  if (date === undefined || !("peers" in map)) return undefined;
  const devices = new Map<string, SyncedDevice>();
  for (const [k, v] of entries(map.devices_known)) {
    if (k.length === 20 && typeof v === "string") devices.set(toHex(k), { shortId: toHex(k), name: v });
  }
  for (const [k, v] of entries(map.devices)) {
    if (k.length !== 32 || !isMsgMap(v) || !(v.sha1 instanceof Uint8Array) || v.sha1.length !== 20) continue;
    devices.set(toHex(v.sha1), { deviceId: toHex(k), shortId: toHex(v.sha1), name: typeof v.name === "string" ? v.name : "" });
  }
  const peers: Record<string, SyncedContact> = {};
  for (const [k, v] of entries(map.peers)) {
    if (k.length !== 20 || !isMsgMap(v)) continue;
    peers[toHex(k)] = {
      added: Number(integer(v.added) ?? 0),
      removed: Number(integer(v.removed) ?? 0),
      confirmed: v.confirmed === true,
      banned: v.banned === true,
      conversationId: typeof v.conversationId === "string" ? v.conversationId : "",
    };
  }
  const trustRequests: Record<string, SyncedTrustRequest> = {};
  for (const [k, v] of entries(map.trust_requests)) {
    if (k.length !== 20 || !isMsgMap(v)) continue;
    trustRequests[toHex(k)] = {
      device: v.device instanceof Uint8Array ? v.device : new Uint8Array(),
      conversationId: typeof v.conversationId === "string" ? v.conversationId : "",
      received: Number(integer(v.received) ?? 0),
      payload: v.payload instanceof Uint8Array ? v.payload : new Uint8Array(),
    };
  }
  return {
    date,
    deviceName: typeof map.device_name === "string" ? map.device_name : "",
    devices: [...devices.values()],
    peers,
    trustRequests,
  };
}

function integer(v: MsgValue | undefined): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  return undefined;
}

/** Entries of a binary-keyed map; an empty map decodes as `{}` and yields nothing. */
function entries(v: MsgValue | undefined): Array<[Uint8Array, MsgValue]> {
  if (!(v instanceof Map)) return [];
  return [...v.entries()].filter((e): e is [Uint8Array, MsgValue] => e[0] instanceof Uint8Array);
}
