import type { AbortOptions } from "jami-core";
import { DhtNode, DhtProxyClient, SecureDht, type DhtClient } from "jami-dht";
import type { PrivateKey } from "jami-identity";
import type { StunServer, TurnServer } from "jami-ice";
import { AccountError } from "../errors.js";

export interface NetworkOptions {
  /** `host:port` of DHT nodes to join (default: none — pass one, or use `createLocalNetwork`). */
  bootstrap?: string[];
  /** Use an OpenDHT proxy over HTTP instead of a UDP node. */
  proxy?: string;
  /**
   * Use this DHT instead: called at each `start`, the client is closed at `stop` (tests and embedders, e.g.
   * `() => memoryDht.client()`). `bootstrap`, `proxy`, `port` and `host` are then not used.
   */
  dht?: () => DhtClient;
  /** UDP port of our node (default: any free port) and address to bind (default 0.0.0.0). */
  port?: number;
  host?: string;
  /** Host addresses offered as ICE candidates for device links (default: every non-internal interface address). */
  iceAddresses?: string[];
  /** A STUN server for a server-reflexive candidate (default: none). */
  stun?: StunServer;
  /** A TURN server for a relayed candidate (TCP relay, RFC 6062; default: none). */
  turn?: TurnServer;
}

/**
 * The account's DHT: a UDP node (or an HTTP proxy client) and the secure layer over it that signs, encrypts and
 * checks values with the device key. `dht` and `secure` throw NOT_STARTED outside start…stop, so a feature that
 * keeps a reference to this object always reaches the current node.
 */
export class AccountNetwork {
  private client?: DhtClient;
  private secureClient?: SecureDht;

  constructor(
    readonly options: NetworkOptions,
    private readonly deviceKey: PrivateKey,
  ) {}

  get dht(): DhtClient {
    if (!this.client) throw new AccountError("NOT_STARTED", "account not started: call start() first");
    return this.client;
  }

  get secure(): SecureDht {
    if (!this.secureClient) throw new AccountError("NOT_STARTED", "account not started: call start() first");
    return this.secureClient;
  }

  /** Binds the node and joins the network; on failure nothing stays bound. */
  async start(options: AbortOptions = {}): Promise<void> {
    const { signal } = options;
    if (this.client) return;
    let client: DhtClient;
    if (this.options.dht) client = this.options.dht();
    else if (this.options.proxy) client = new DhtProxyClient({ url: this.options.proxy });
    else {
      const node = await DhtNode.create({ host: this.options.host ?? "0.0.0.0", port: this.options.port ?? 0, bootstrap: this.options.bootstrap ?? [] });
      client = node;
      try {
        if (this.options.bootstrap?.length) await node.bootstrap([], { signal });
      } catch (error) {
        await node.close();
        throw error;
      }
    }
    this.client = client;
    this.secureClient = new SecureDht(client, { key: this.deviceKey });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = this.secureClient = undefined;
    await client?.close();
  }
}
