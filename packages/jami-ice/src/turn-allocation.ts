import createDebug from "debug";
import { EventEmitter } from "node:events";
import { IceError } from "./errors.js";
import { familyOf } from "./host.js";
import { Attr, longTermKey, StunClass, StunMessage, StunMethod, type TransportAddress } from "./stun.js";

const log = createDebug("jami:ice:turn");

export interface StunServer {
  host: string;
  port: number;
}

export interface TurnServer extends StunServer {
  username: string;
  password: string;
}

const LIFETIME_S = 600;
/** Permissions last 300 s (RFC 8656 §9): they and the allocation are refreshed well before. */
const REFRESH_EVERY_S = 240;

/** RFC 8656 §9.2 long-term credentials: realm and nonce learnt from a 401, a stale nonce (438) renewed. */
export class TurnAuth {
  private key?: Uint8Array;
  private realm = "";
  private nonce = "";

  constructor(private readonly server: TurnServer) {}

  async request(build: () => StunMessage, send: (message: StunMessage, bytes: Uint8Array) => Promise<StunMessage>, attempt = 0): Promise<StunMessage> {
    const message = build();
    if (this.key) message.addString(Attr.Username, this.server.username).addString(Attr.Realm, this.realm).addString(Attr.Nonce, this.nonce);
    const answer = await send(message, message.encode(this.key ? { integrityKey: this.key, fingerprint: true } : { fingerprint: true }));
    if (answer.cls === StunClass.Success) return answer;
    const error = answer.errorCode();
    if ((error?.code === 401 || error?.code === 438) && attempt < 2) {
      this.realm = answer.string(Attr.Realm) ?? this.realm;
      this.nonce = answer.string(Attr.Nonce) ?? this.nonce;
      this.key = longTermKey(this.server.username, this.realm, this.server.password);
      return this.request(build, send, attempt + 1);
    }
    throw new IceError("TURN_FAILED", `TURN ${message.method} refused: ${error?.code ?? "?"} ${error?.reason ?? ""}`);
  }
}

/**
 * What a TCP (RFC 6062) and a UDP (RFC 8656) allocation share: the Allocate, permissions for the peers, refreshes,
 * the release on close. Subclasses carry the control connection (`transact`, `release`) and the peers' data.
 */
export abstract class TurnAllocation<Events extends Record<keyof Events, unknown[]>> extends EventEmitter<Events> {
  protected readonly auth: TurnAuth;
  protected closed = false;
  private readonly permitted = new Set<string>();
  private refreshTimer?: NodeJS.Timeout;
  relayed!: TransportAddress;
  mapped?: TransportAddress;

  protected constructor(protected readonly server: TurnServer) {
    super();
    this.auth = new TurnAuth(server);
  }

  /** One request and its answer on the control connection. */
  protected abstract transact(message: StunMessage, bytes: Uint8Array): Promise<StunMessage>;

  /** Closes the control connection. */
  protected abstract release(): void;

  protected authenticated(build: () => StunMessage): Promise<StunMessage> {
    return this.auth.request(build, (message, bytes) => this.transact(message, bytes));
  }

  /** Allocate (RFC 8656 §7.1) a relay of `transport` (UDP 17, TCP 6) and keep it alive. */
  protected async allocateRelay(transport: number): Promise<void> {
    const answer = await this.authenticated(() =>
      StunMessage.request(StunMethod.Allocate)
        .addU32(Attr.RequestedTransport, transport << 24)
        .addU32(Attr.Lifetime, LIFETIME_S),
    );
    const relayed = answer.xorAddress(Attr.XorRelayedAddress);
    if (!relayed) throw new IceError("TURN_FAILED", "the TURN server gave no relayed address");
    this.relayed = relayed;
    this.mapped = answer.xorAddress(Attr.XorMappedAddress);
    const lifetime = answer.u32(Attr.Lifetime) ?? LIFETIME_S;
    this.refreshTimer = setInterval(() => void this.refresh(lifetime), Math.min(REFRESH_EVERY_S, Math.max(30, lifetime - 60)) * 1000);
    this.refreshTimer.unref();
    log("allocated %s relay %s:%d on %s:%d", transport === 17 ? "UDP" : "TCP", relayed.address, relayed.port, this.server.host, this.server.port);
  }

  /** Lets these peer addresses through the relay (CreatePermission per address of the relay's family; kept fresh). */
  async permit(addresses: string[]): Promise<void> {
    const fresh = [...new Set(addresses)].filter((a) => !this.permitted.has(a) && familyOf(a) === this.relayed.family);
    for (const address of fresh) {
      await this.createPermission(address);
      this.permitted.add(address);
    }
  }

  /** Releases the allocation (Refresh with lifetime 0), then closes the control connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.refreshTimer);
    const released = this.relayed
      ? this.authenticated(() => StunMessage.request(StunMethod.Refresh).addU32(Attr.Lifetime, 0)).catch(() => undefined)
      : Promise.resolve();
    void released.finally(() => this.release());
  }

  private createPermission(address: string): Promise<StunMessage> {
    return this.authenticated(() =>
      StunMessage.request(StunMethod.CreatePermission).addXorAddress(Attr.XorPeerAddress, { family: this.relayed.family, address, port: 0 }),
    );
  }

  private async refresh(lifetime: number): Promise<void> {
    try {
      await this.authenticated(() => StunMessage.request(StunMethod.Refresh).addU32(Attr.Lifetime, lifetime));
      for (const address of this.permitted) await this.createPermission(address);
    } catch (e) {
      log("refresh failed: %s", (e as Error).message);
    }
  }
}
