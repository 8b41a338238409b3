import createDebug from "debug";
import { deadline } from "jami-core";
import type { Duplex } from "node:stream";
import { connect as tlsConnect, createSecureContext, TLSSocket, type PeerCertificate } from "node:tls";
import { Certificate, deviceChainPem, verifyDeviceChain, type DeviceIdentity, type VerifiedDevice } from "jami-identity";
import { LinkError } from "./errors.js";

const log = createDebug("jami:dtls");

/**
 * What GnuTLS's `SECURE192:-RSA:…` (Jami's priority string) accepts, restricted to forward-secret AES-GCM:
 * TLS 1.3 AES-256-GCM, TLS 1.2 ECDHE with AES-256-GCM; P-384 first (what a GnuTLS server picks), X25519 allowed.
 */
export const JAMI_TLS = {
  minVersion: "TLSv1.2",
  maxVersion: "TLSv1.3",
  ciphers: "TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
  ecdhCurve: "secp384r1:X25519:secp521r1",
  sigalgs: "rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:rsa_pss_rsae_sha256:ecdsa_secp384r1_sha384:ecdsa_secp521r1_sha512:rsa_pkcs1_sha384:rsa_pkcs1_sha512",
} as const;

/** jamid's TLS handshake timeout. */
const HANDSHAKE_TIMEOUT_MS = 40_000;

export interface SecureLinkOptions {
  /** The ICE (or any reliable) byte stream the TLS records travel on. */
  transport: Duplex;
  /** Jami: the ICE-controlling device (the one that received the connection request) is the TLS client. */
  role: "client" | "server";
  /** Our device key and chain (device → account → CA), exactly as published on the DHT. */
  identity: DeviceIdentity;
  /**
   * Checks the peer's chain; throw to refuse the link. Called after the handshake with the chain the peer sent
   * (device first), already verified up to its own account (`verifyDeviceChain`).
   */
  verifyPeer: (peer: VerifiedDevice, chain: Certificate[]) => void | Promise<void>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A TLS session with a verified Jami device at the other end. */
export interface SecureLink {
  socket: TLSSocket;
  peer: VerifiedDevice;
  peerChain: Certificate[];
  protocol: string;
  cipher: string;
}

/**
 * Runs TLS over `transport` with certificates both ways (Node's `tls`; the peer's chain is checked by us since
 * a bare server-side TLSSocket does not enforce client certificates): the peer must present a valid device chain,
 * which `verifyPeer` then matches against what the DHT said.
 */
export async function secureLink(options: SecureLinkOptions): Promise<SecureLink> {
  const { identity } = options;
  const context = {
    ...JAMI_TLS,
    key: identity.key.toPem(),
    cert: deviceChainPem(identity),
  };
  const socket =
    options.role === "client"
      ? tlsConnect({ ...context, socket: options.transport, rejectUnauthorized: false, checkServerIdentity: () => undefined })
      : new TLSSocket(options.transport, { isServer: true, requestCert: true, rejectUnauthorized: false, secureContext: createSecureContext(context) });
  // Node may emit a socket's error after our handshake listener is gone (a transport closing mid-handshake is
  // reported twice); without a listener that would crash the process.
  socket.on("error", (e: Error) => log("TLS socket: %s", e.message));
  try {
    await handshake(socket, options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS, { signal: options.signal });
    const chain = peerChain(socket);
    let peer: VerifiedDevice;
    try {
      peer = verifyDeviceChain(chain);
    } catch (cause) {
      throw new LinkError("PEER_REFUSED", `the peer's certificate chain is not valid: ${(cause as Error).message}`, { cause });
    }
    try {
      await options.verifyPeer(peer, chain);
    } catch (cause) {
      if (cause instanceof LinkError) throw cause;
      throw new LinkError("PEER_REFUSED", `peer refused: ${(cause as Error).message}`, { cause });
    }
    const cipher = socket.getCipher();
    log("TLS up with %s (%s, %s)", peer.deviceId, socket.getProtocol(), cipher.name);
    return { socket, peer, peerChain: chain, protocol: socket.getProtocol() ?? "", cipher: cipher.standardName ?? cipher.name };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

function handshake(socket: TLSSocket, timeoutMs: number, options: { signal?: AbortSignal }): Promise<void> {
  const signal = options.signal;
  return new Promise((resolve, reject) => {
    let cancel = (): void => undefined;
    const done = (error?: Error): void => {
      cancel();
      socket.off("secure", onSecure).off("secureConnect", onSecure).off("error", onError).off("close", onClose);
      if (error) reject(error);
      else resolve();
    };
    const onSecure = (): void => done();
    const onError = (e: Error): void => done(new LinkError("TLS_FAILED", `TLS handshake failed: ${e.message}`, { cause: e }));
    const onClose = (): void => done(new LinkError("TLS_FAILED", "the transport closed during the TLS handshake"));
    socket.once("secure", onSecure).once("secureConnect", onSecure).once("error", onError).once("close", onClose);
    cancel = deadline(timeoutMs, signal, (why) =>
      done(why === "timeout" ? new LinkError("TIMEOUT", "TLS handshake timed out") : new LinkError("ABORTED", "TLS handshake aborted")),
    );
  });
}

/** The chain the peer sent, device first (Node links each certificate to its issuer). */
function peerChain(socket: TLSSocket): Certificate[] {
  const chain: Certificate[] = [];
  let cert: PeerCertificate | undefined = socket.getPeerCertificate(true);
  if (!cert || !cert.raw) throw new LinkError("PEER_REFUSED", "the peer sent no certificate");
  const seen = new Set<string>();
  while (cert?.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(Certificate.fromDer(new Uint8Array(cert.raw)));
    cert = (cert as PeerCertificate & { issuerCertificate?: PeerCertificate }).issuerCertificate;
  }
  return chain;
}
