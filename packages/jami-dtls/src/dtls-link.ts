import createDebug from "debug";
import { deadline } from "jami-core";
import { EventEmitter } from "node:events";
import { Certificate, deviceChain, verifyDeviceChain, type DeviceIdentity, type VerifiedDevice } from "jami-identity";
import { AlertDescription, DtlsAlert } from "./dtls/alert.js";
import { clientHandshake } from "./dtls/client.js";
import type { Negotiated } from "./dtls/handshake.js";
import { MAX_PLAINTEXT } from "./dtls/record.js";
import { serverHandshake } from "./dtls/server.js";
import { DtlsSession, type Credentials } from "./dtls/session.js";
import { LinkError } from "./errors.js";

const log = createDebug("jami:dtls:udp");

/** jamid's handshake timeout, as for TLS. */
const HANDSHAKE_TIMEOUT_MS = 40_000;
/** GnuTLS's default DTLS MTU: handshake flights are cut to fit it. */
const DEFAULT_MTU = 1200;

/** Datagrams both ways, e.g. `IceUdpConnection` or a connected UDP socket. */
export interface DatagramTransport {
  send(datagram: Uint8Array): void;
  on(event: "message", listener: (datagram: Uint8Array) => void): unknown;
  on(event: "close", listener: () => void): unknown;
  off(event: "message", listener: (datagram: Uint8Array) => void): unknown;
  off(event: "close", listener: () => void): unknown;
  close?(): void;
}

export interface DtlsLinkOptions {
  transport: DatagramTransport;
  /** As for TLS: the ICE-controlling device (the one that received the connection request) is the client. */
  role: "client" | "server";
  identity: DeviceIdentity;
  /** Checks the peer's chain (already verified up to its own account); throw to refuse it. */
  verifyPeer: (peer: VerifiedDevice, chain: Certificate[]) => void | Promise<void>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Largest datagram the handshake sends (default 1200). */
  mtu?: number;
}

export interface DtlsLinkEvents {
  /** One datagram of application data. */
  message: [Uint8Array];
  /** The link ended: by either side's close (no error) or a failure. */
  close: [LinkError | undefined];
}

/**
 * A DTLS 1.2 session (RFC 6347) with a verified Jami device: ECDHE (P-384 first) + AES-GCM, certificates both
 * ways, and Jami's peer checks as for TLS. Application data keeps its datagram boundaries and, like UDP, may be
 * lost or reordered; replays are dropped.
 */
export class DtlsLink extends EventEmitter<DtlsLinkEvents> {
  readonly protocol = "DTLSv1.2";
  private ended = false;

  /** @internal */
  constructor(
    private readonly session: DtlsSession,
    private readonly transport: DatagramTransport,
    private readonly detach: () => void,
    readonly peer: VerifiedDevice,
    readonly peerChain: Certificate[],
    private readonly negotiated: Negotiated,
  ) {
    super();
  }

  /** IANA name, e.g. `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`. */
  get cipher(): string {
    return this.negotiated.suite.name;
  }

  get group(): string {
    return this.negotiated.group.name;
  }

  /** The signature scheme of the server's key exchange (GnuTLS's name, e.g. `RSA-PSS-RSAE-SHA384`). */
  get signatureScheme(): string {
    return this.negotiated.signatureScheme.name;
  }

  get extendedMasterSecret(): boolean {
    return this.negotiated.extendedMasterSecret;
  }

  /** Largest message `send` takes (one record). */
  get maxMessageSize(): number {
    return MAX_PLAINTEXT;
  }

  get closed(): boolean {
    return this.ended;
  }

  send(data: Uint8Array): void {
    if (this.ended) throw new LinkError("LINK_CLOSED", "the DTLS link is closed");
    if (data.length > MAX_PLAINTEXT) throw new LinkError("INVALID_ARGUMENT", `a DTLS message holds at most ${MAX_PLAINTEXT} bytes`);
    this.session.sendApplicationData(data);
  }

  /** Tells the peer (close_notify) and closes the transport. */
  close(): void {
    if (this.ended) return;
    this.session.close();
    this.end(undefined);
  }

  /** @internal */
  end(error: LinkError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.session.stop(error ?? new LinkError("LINK_CLOSED", "closed"));
    this.detach();
    this.transport.close?.();
    this.emit("close", error);
  }
}

/**
 * Runs the DTLS handshake over `transport` and resolves with the link once the peer is verified. The link owns
 * the transport (closing the link closes it); if the handshake fails, the transport stays the caller's to close.
 */
export async function dtlsLink(options: DtlsLinkOptions): Promise<DtlsLink> {
  const { transport, identity } = options;
  let link: DtlsLink | undefined;
  let refusal: LinkError | undefined;
  const session = new DtlsSession(
    {
      send: (datagram) => {
        try {
          transport.send(datagram);
        } catch (e) {
          log("send failed: %s", (e as Error).message);
        }
      },
      fail: (error) => link?.end(new LinkError("LINK_CLOSED", error.message, { cause: error })),
      message: (data) => link?.emit("message", data),
      closed: () => link?.end(undefined),
    },
    options.mtu ?? DEFAULT_MTU,
  );
  const onMessage = (datagram: Uint8Array): void => session.receive(datagram);
  const onClose = (): void => {
    if (link) link.end(new LinkError("LINK_CLOSED", "the transport under the DTLS link closed"));
    else session.stop(new LinkError("TLS_FAILED", "the transport closed during the DTLS handshake"));
  };
  transport.on("message", onMessage);
  transport.on("close", onClose);
  const detach = (): void => {
    transport.off("message", onMessage);
    transport.off("close", onClose);
  };

  let peer: VerifiedDevice | undefined;
  let chain: Certificate[] = [];
  const credentials: Credentials = {
    privateKey: identity.key.keyObject,
    chain: deviceChain(identity).map((c) => c.der),
    checkPeer: async (ders) => {
      if (ders.length === 0) {
        refusal = new LinkError("PEER_REFUSED", "the peer sent no certificate");
        throw new DtlsAlert(AlertDescription.handshake_failure, refusal.message);
      }
      try {
        chain = ders.map((der) => Certificate.fromDer(der));
        peer = verifyDeviceChain(chain);
      } catch (cause) {
        refusal = new LinkError("PEER_REFUSED", `the peer's certificate chain is not valid: ${(cause as Error).message}`, { cause });
        throw new DtlsAlert(AlertDescription.bad_certificate, refusal.message);
      }
      try {
        await options.verifyPeer(peer, chain);
      } catch (cause) {
        refusal = cause instanceof LinkError ? cause : new LinkError("PEER_REFUSED", `peer refused: ${(cause as Error).message}`, { cause });
        throw new DtlsAlert(AlertDescription.access_denied, refusal.message);
      }
      return peer.device.publicKey.keyObject;
    },
  };

  const timeoutMs = options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const cancel = deadline(timeoutMs, options.signal, (why) =>
    session.stop(why === "timeout" ? new LinkError("TIMEOUT", "DTLS handshake timed out") : new LinkError("ABORTED", "DTLS handshake aborted")),
  );
  try {
    const negotiated = await (options.role === "client" ? clientHandshake(session, credentials) : serverHandshake(session, credentials));
    link = new DtlsLink(session, transport, detach, peer!, chain, negotiated);
    session.finish();
    log("DTLS up with %s (%s, %s)", peer!.deviceId, negotiated.suite.name, negotiated.group.name);
    return link;
  } catch (error) {
    if (error instanceof DtlsAlert) session.abort(error);
    else session.stop(error as Error);
    detach();
    throw asLinkError(refusal ?? error);
  } finally {
    cancel();
  }
}

function asLinkError(error: unknown): LinkError {
  if (error instanceof LinkError) return error;
  const message = (error as Error).message;
  return new LinkError("TLS_FAILED", `DTLS handshake failed: ${message}`, { cause: error });
}
