import createDebug from "debug";
import type { KeyObject } from "node:crypto";
import { LinkError } from "../errors.js";
import { AlertDescription, AlertLevel, alertName, DtlsAlert } from "./alert.js";
import { RecordCipher } from "./crypto.js";
import { fragmentHandshake, HANDSHAKE_HEADER, HandshakeType, Reassembler, type HandshakeMessage, type IncomingLimit } from "./handshake-codec.js";
import { ContentType, decodeRecords, RECORD_HEADER, RecordLayer, type DtlsRecord } from "./record.js";

const log = createDebug("jami:dtls:udp");

/** RFC 6347 §4.2.4.1: 1 s initial retransmission timer, doubled up to 60 s. */
const INITIAL_RTO_MS = 1000;
const MAX_RTO_MS = 60_000;
/** Records of the next epoch that arrive before the peer's ChangeCipherSpec are kept for it, up to this many. */
const MAX_EARLY_RECORDS = 32;

export type FlightItem = { message: HandshakeMessage; epoch: number } | { changeCipherSpec: true; epoch: number };

export interface SessionCallbacks {
  send(datagram: Uint8Array): void;
  /** A failure: the handshake's, or the established session's (a fatal alert from the peer). */
  fail(error: Error): void;
  message(data: Uint8Array): void;
  /** The peer sent close_notify. */
  closed(): void;
}

/** What the handshake flows need from the session: ordered messages, flights, keys. */
export interface HandshakeIO {
  next(): Promise<HandshakeMessage>;
  sendFlight(items: FlightItem[], retransmit: boolean): void;
  installWriter(cipher: RecordCipher): void;
  /** The peer's ChangeCipherSpec will switch reading to these keys. */
  expectChangeCipherSpec(cipher: RecordCipher): void;
  /** Accepts only these handshake messages until lifted (a server before the cookie exchange). */
  limitIncoming(limit: IncomingLimit | undefined): void;
  readonly maxFragment: number;
}

export interface Credentials {
  privateKey: KeyObject;
  /** DER certificates, ours first. */
  chain: Uint8Array[];
  /** Checks the peer's chain (DER, leaf first; empty if it sent none) and returns its leaf key; throw to refuse. */
  checkPeer(chain: Uint8Array[]): Promise<KeyObject>;
}

/**
 * The record side of a DTLS 1.2 session (RFC 6347): epochs, replay windows, handshake reassembly, flights and their
 * retransmission, alerts, application data. The handshake itself is a client or server flow run over `HandshakeIO`.
 */
export class DtlsSession implements HandshakeIO {
  private readonly layer = new RecordLayer();
  private readonly reassembler = new Reassembler();
  private flight: FlightItem[] = [];
  /** The first message_seq of the peer after our current flight: earlier ones retransmitted mean ours was lost. */
  private flightAnswers = 0;
  private rto = INITIAL_RTO_MS;
  private timer?: NodeJS.Timeout;
  private lastRetransmit = 0;
  private pendingReader?: RecordCipher;
  /** The peer's ChangeCipherSpec came before our flow had the keys (it travels with the message that gives them). */
  private changeCipherSpecSeen = false;
  private early: DtlsRecord[] = [];
  private earlyData: Uint8Array[] = [];
  private wake?: () => void;
  private failure?: Error;
  private established = false;
  private delivering = false;
  private ended = false;

  constructor(
    private readonly callbacks: SessionCallbacks,
    private readonly mtu: number,
  ) {}

  /** Bytes held for handshake messages not yet complete (bounded; what a peer can make us keep). */
  get pendingHandshakeBytes(): number {
    return this.reassembler.pendingBytes;
  }

  get maxFragment(): number {
    return this.mtu - RECORD_HEADER - HANDSHAKE_HEADER - RecordCipher.overhead;
  }

  receive(datagram: Uint8Array): void {
    if (this.ended) return;
    for (const record of decodeRecords(datagram)) {
      try {
        this.onRecord(record);
      } catch (error) {
        if (this.established) log("dropped a malformed record: %s", (error as Error).message);
        else this.abort(error as Error);
      }
    }
  }

  async next(): Promise<HandshakeMessage> {
    for (;;) {
      if (this.failure) throw this.failure;
      const message = this.reassembler.next();
      if (message) return message;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  sendFlight(items: FlightItem[], retransmit: boolean): void {
    clearTimeout(this.timer);
    this.flight = items;
    this.flightAnswers = this.reassembler.nextSeq;
    this.rto = INITIAL_RTO_MS;
    this.transmit();
    if (retransmit) this.arm();
  }

  installWriter(cipher: RecordCipher): void {
    this.layer.installWriter(cipher);
  }

  limitIncoming(limit: IncomingLimit | undefined): void {
    this.reassembler.limit = limit;
  }

  expectChangeCipherSpec(cipher: RecordCipher): void {
    this.pendingReader = cipher;
    if (this.changeCipherSpecSeen) this.switchReader();
  }

  private switchReader(): void {
    this.layer.installReader(this.pendingReader!);
    this.pendingReader = undefined;
    this.changeCipherSpecSeen = false;
    for (const r of this.early.splice(0)) this.onRecord(r);
  }

  /** The handshake is over: no more timer (a peer retransmitting its last flight still gets ours again). */
  finish(): void {
    clearTimeout(this.timer);
    this.established = true;
    // Data that came with the peer's last flight waits until the caller has the link and its listeners.
    setImmediate(() => {
      this.delivering = true;
      for (const data of this.earlyData.splice(0)) if (!this.ended) this.callbacks.message(data);
    });
  }

  /** Stops the handshake with `error`, telling the peer with a fatal alert. */
  abort(error: Error): void {
    if (this.failure || this.ended) return;
    this.failure = error;
    clearTimeout(this.timer);
    this.sendAlert(AlertLevel.fatal, error instanceof DtlsAlert ? error.description : AlertDescription.internal_error);
    this.wake?.();
  }

  /** Ends the session without a word to the peer (timeout, abort, transport gone). */
  stop(error: Error): void {
    if (!this.failure) this.failure = error;
    clearTimeout(this.timer);
    this.ended = true;
    this.wake?.();
  }

  sendApplicationData(data: Uint8Array): void {
    this.callbacks.send(this.layer.seal(ContentType.application_data, data));
  }

  sendAlert(level: number, description: number): void {
    try {
      this.callbacks.send(this.layer.seal(ContentType.alert, Uint8Array.of(level, description)));
    } catch (error) {
      log("could not send alert: %s", (error as Error).message);
    }
  }

  close(): void {
    if (this.ended) return;
    this.sendAlert(AlertLevel.warning, AlertDescription.close_notify);
    this.stop(new LinkError("LINK_CLOSED", "closed"));
  }

  private onRecord(record: DtlsRecord): void {
    const current = this.layer.readEpoch;
    if (record.epoch > current) {
      if (record.epoch === current + 1 && this.early.length < MAX_EARLY_RECORDS) this.early.push(record);
      return;
    }
    if (record.epoch < current) {
      // An older epoch is not authenticated by the keys in force (epoch 0 is plaintext): anyone who can send us a
      // datagram could forge it. It is never acted on; during the handshake an old handshake fragment only tells
      // us that the peer is retransmitting (its last flight will then come again under the current keys too).
      if (record.type === ContentType.handshake && !this.established) this.noteRetransmission(record);
      return;
    }
    const plaintext = this.layer.open(record);
    if (!plaintext) return;
    switch (record.type) {
      case ContentType.change_cipher_spec:
        if (plaintext.length !== 1 || plaintext[0] !== 1 || this.established) return;
        if (this.pendingReader) this.switchReader();
        else if (current === 0) this.changeCipherSpecSeen = true;
        return;
      case ContentType.alert:
        return this.onAlert(plaintext);
      case ContentType.handshake:
        return this.onHandshake(plaintext);
      case ContentType.application_data:
        if (record.epoch === 0) return;
        if (this.delivering) this.callbacks.message(plaintext);
        else if (this.earlyData.length < MAX_EARLY_RECORDS) this.earlyData.push(plaintext);
        return;
    }
  }

  /** An old-epoch handshake record: a hint that our last flight was lost, never a message. */
  private noteRetransmission(record: DtlsRecord): void {
    const plaintext = this.layer.open(record);
    if (!plaintext) return;
    const old = this.reassembler.push(plaintext, () => false);
    if (old !== undefined && old < this.flightAnswers) this.retransmitOnce();
  }

  private onHandshake(plaintext: Uint8Array): void {
    // A Finished counts only under the new keys: in epoch 0 it is a retransmission at most.
    const epoch = this.layer.readEpoch;
    const old = this.reassembler.push(plaintext, (f) => !(epoch === 0 && f.type === HandshakeType.finished));
    if (old !== undefined && old < this.flightAnswers) this.retransmitOnce();
    if (this.established) this.refuseRenegotiation();
    else this.wake?.();
  }

  /** We never renegotiate (RFC 5746 peers are told so with a warning). */
  private refuseRenegotiation(): void {
    for (let m = this.reassembler.next(); m; m = this.reassembler.next()) {
      if (m.type === HandshakeType.hello_request || m.type === HandshakeType.client_hello)
        this.sendAlert(AlertLevel.warning, AlertDescription.no_renegotiation);
    }
  }

  private onAlert(plaintext: Uint8Array): void {
    if (plaintext.length !== 2) return;
    const [level, description] = plaintext as unknown as [number, number];
    if (description === AlertDescription.close_notify) {
      log("peer sent close_notify");
      this.stop(new LinkError("LINK_CLOSED", "the peer closed the session"));
      this.callbacks.closed();
    } else if (level === AlertLevel.fatal) {
      const error = new LinkError("TLS_FAILED", `the peer sent a fatal alert: ${alertName(description)}`);
      this.stop(error);
      this.callbacks.fail(error);
    } else log("peer sent warning %s", alertName(description));
  }

  private transmit(): void {
    const records: Uint8Array[] = [];
    for (const item of this.flight) {
      if ("changeCipherSpec" in item) records.push(this.layer.seal(ContentType.change_cipher_spec, Uint8Array.of(1), item.epoch));
      else for (const f of fragmentHandshake(item.message, this.maxFragment)) records.push(this.layer.seal(ContentType.handshake, f, item.epoch));
    }
    // As many records in a datagram as the MTU allows.
    let datagram: Uint8Array[] = [];
    let size = 0;
    const flush = (): void => {
      if (datagram.length) this.callbacks.send(Buffer.concat(datagram));
      datagram = [];
      size = 0;
    };
    for (const r of records) {
      if (size + r.length > this.mtu) flush();
      datagram.push(r);
      size += r.length;
    }
    flush();
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      log("retransmitting our flight (timer %d ms)", this.rto);
      this.transmit();
      this.rto = Math.min(this.rto * 2, MAX_RTO_MS);
      this.arm();
    }, this.rto);
    this.timer.unref?.();
  }

  private retransmitOnce(): void {
    // A whole retransmitted flight arrives as several records: answer it once.
    if (!this.flight.length || Date.now() - this.lastRetransmit < 250) return;
    this.lastRetransmit = Date.now();
    log("peer retransmitted; sending our last flight again");
    this.transmit();
  }
}
