import { timingSafeEqual } from "node:crypto";
import { AlertDescription, DtlsAlert } from "./alert.js";
import { hash, prf, RecordCipher, type CipherSuite, type Group, type SignatureScheme } from "./crypto.js";
import { encodeHandshake, type HandshakeMessage } from "./handshake-codec.js";
import type { HandshakeIO } from "./session.js";

/** What both sides agreed on. */
export interface Negotiated {
  suite: CipherSuite;
  group: Group;
  /** The scheme the server signed its key exchange with. */
  signatureScheme: SignatureScheme;
  extendedMasterSecret: boolean;
  /** The peer's certificate chain (DER, leaf first), already accepted by `checkPeer`. */
  peerChain: Uint8Array[];
}

/** The transcript, our message numbering and the key schedule of one handshake (RFC 5246 §6.3, §7.4.9; RFC 7627). */
export class HandshakeState {
  private transcript: Uint8Array[] = [];
  private nextSeq = 0;
  master?: Uint8Array;

  constructor(readonly io: HandshakeIO) {}

  /** Our next message: numbered and added to the transcript. */
  message(type: number, body: Uint8Array): HandshakeMessage {
    const message = { type, seq: this.nextSeq++, body };
    this.record(message);
    return message;
  }

  record(message: HandshakeMessage): void {
    this.transcript.push(encodeHandshake(message));
  }

  /** Restarts the transcript (after a HelloVerifyRequest) and our numbering. */
  restart(seq: number): void {
    this.transcript = [];
    this.nextSeq = seq;
  }

  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.transcript));
  }

  async expect(type: number): Promise<HandshakeMessage> {
    const message = await this.io.next();
    if (message.type !== type) throw new DtlsAlert(AlertDescription.unexpected_message, `expected handshake message ${type}, got ${message.type}`);
    this.record(message);
    return message;
  }

  /**
   * Derives the extended master secret (RFC 7627, over the session hash; both sides require it); call right after
   * the ClientKeyExchange is in the transcript.
   */
  deriveMaster(suite: CipherSuite, preMaster: Uint8Array): void {
    this.master = prf(suite.hash, preMaster, "extended master secret", hash(suite.hash, this.bytes()), 48);
  }

  /** client and server write ciphers from the key block (no MAC keys with AEAD). */
  ciphers(suite: CipherSuite, clientRandom: Uint8Array, serverRandom: Uint8Array): { client: RecordCipher; server: RecordCipher } {
    const n = suite.keyLength;
    const block = prf(suite.hash, this.master!, "key expansion", Buffer.concat([serverRandom, clientRandom]), 2 * n + 8);
    return {
      client: new RecordCipher(block.subarray(0, n), block.subarray(2 * n, 2 * n + 4)),
      server: new RecordCipher(block.subarray(n, 2 * n), block.subarray(2 * n + 4, 2 * n + 8)),
    };
  }

  finished(suite: CipherSuite, label: "client finished" | "server finished"): Uint8Array {
    return prf(suite.hash, this.master!, label, hash(suite.hash, this.bytes()), 12);
  }

  /** Checks the peer's Finished against the transcript before it, then records it. */
  async expectFinished(suite: CipherSuite, label: "client finished" | "server finished"): Promise<void> {
    const expected = this.finished(suite, label);
    const message = await this.io.next();
    if (message.type !== 20) throw new DtlsAlert(AlertDescription.unexpected_message, `expected Finished, got ${message.type}`);
    if (message.body.length !== expected.length || !timingSafeEqual(message.body, expected)) {
      throw new DtlsAlert(AlertDescription.decrypt_error, "the peer's Finished does not match the handshake");
    }
    this.record(message);
  }
}
