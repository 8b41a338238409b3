/**
 * `jami-sdk/internal`: the wire codecs and building blocks under `Account` (jamid's DHT keys, device
 * announcements, trust requests, DeviceSync, connection requests and the connection manager). Used by tests,
 * benches and tools; no stability promise between versions.
 */
export { ConnectionManager, ANSWER_TIMEOUT_MS, MAX_INCOMING, MAX_INCOMING_PER_DEVICE, type ConnectionManagerOptions } from "./connection/connection-manager.js";
export { peerRequestValue, readPeerRequest, PEER_REQUEST_USER_TYPE, type PeerConnectionRequest } from "./connection/peer-request.js";
export { JamiDhtKeys } from "./dht/keys.js";
export { createDeviceAnnouncement, readDeviceAnnouncement, type AnnouncedDevice } from "./dht/device-announcement.js";
export { publishDevice, findDevices, forEachDevice, findDeviceChain, findDeviceChainById, certificateValue } from "./dht/devices.js";
export { encodeDeviceSync, decodeDeviceSync, DEVICE_SYNC_TYPE, type DeviceSyncData } from "./dht/device-sync.js";
export { encodeTrustRequest, decodeTrustRequest, TRUST_REQUEST_SERVICE, TRUST_REQUEST_TYPE, type TrustRequestBody } from "./dht/trust-request.js";
export { REVOCATION_CACHE_MS, MAX_CRL_VALUES } from "./account/revocations.js";
export { buildComponents } from "./account/components.js";
export { AccountIdentity } from "./account/identity.js";
export { AccountNetwork } from "./account/network.js";
