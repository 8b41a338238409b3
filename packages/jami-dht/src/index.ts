/**
 * An OpenDHT-compatible DHT node (UDP/msgpack as OpenDHT 2.4.12 speaks it), signed and encrypted values, the
 * DHT-proxy REST API (server and client), and `MemoryDht` for tests.
 * @packageDocumentation
 * @module jami-dht
 */
export { DhtError, isDhtError, type DhtErrorCode } from "./errors.js";
export { InfoHash } from "./infohash.js";
export { Value, ValueField, MAX_VALUE_SIZE, publicKeyId, randomValueId, type ValueInit, type ValueFieldId } from "./value.js";
export { parseMessage, USER_AGENT, ErrorCode, type ParsedMessage, type QueryName, type ValueQuery, type FieldValue, type FieldsReply } from "./messages.js";
export { parseHostPort, socketAddress, type SocketAddress, type NodeEntry, type Family } from "./node-entry.js";
export { DhtNode, LISTEN_NODES, type DhtNodeOptions, type DhtNodeEvents, type NodeStats } from "./dht-node.js";
export type { DhtClient, GetOptions, PutOptions, PutResult } from "./client.js";
export { valueToJson, valueFromJson, type ValueJson } from "./value-json.js";
export { Subscription, type ListenEvent, type SubscriptionEvents } from "./subscription.js";
export { UdpTransport, type DatagramTransport, type UdpTransportOptions } from "./transport.js";
export { Storage, type StorageOptions, type StoreOutcome, type StoredValue } from "./storage.js";
export { ValueType, valueTypeRule, certificateKeyId, certificatePemOf, encodeServiceAddress, decodeServiceAddress, type ValueTypeRule } from "./value-types.js";
export { RemoteError } from "./rpc.js";
export { SecureDht, CERTIFICATE_VALUE_ID, type SecureIdentity, type SecureGetOptions } from "./secure-dht.js";
export { DhtProxyServer, PROXY_OP_TIMEOUT_MS, type DhtProxyServerOptions } from "./proxy-server.js";
export { DhtProxyClient, type DhtProxyClientOptions } from "./proxy-client.js";
export { PushListeners, type PushPlatform, type PushRegistration } from "./proxy-push.js";
export { MemoryDht } from "./memory-dht.js";
