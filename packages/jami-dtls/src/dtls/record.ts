import { RecordCipher } from "./crypto.js";
import { Writer } from "./wire.js";

export const ContentType = { change_cipher_spec: 20, alert: 21, handshake: 22, application_data: 23 } as const;

/** DTLS 1.2 on the wire (RFC 6347 §4.1); DTLS 1.0 appears only in a HelloVerifyRequest. */
export const DTLS_1_2 = 0xfefd;
export const DTLS_1_0 = 0xfeff;
export const RECORD_HEADER = 13;
export const MAX_PLAINTEXT = 16384;

export interface DtlsRecord {
  type: number;
  version: number;
  epoch: number;
  sequence: number;
  fragment: Uint8Array;
}

/** The records of a datagram; a malformed tail is dropped (RFC 6347 §4.1.2.7: invalid records are discarded). */
export function decodeRecords(datagram: Uint8Array): DtlsRecord[] {
  const records: DtlsRecord[] = [];
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  let at = 0;
  while (datagram.length - at >= RECORD_HEADER) {
    const type = view.getUint8(at);
    const version = view.getUint16(at + 1);
    const length = view.getUint16(at + 11);
    if (type < 20 || type > 23 || (version !== DTLS_1_2 && version !== DTLS_1_0) || at + RECORD_HEADER + length > datagram.length) break;
    records.push({
      type,
      version,
      epoch: view.getUint16(at + 3),
      sequence: view.getUint16(at + 5) * 2 ** 32 + view.getUint32(at + 7),
      fragment: datagram.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length),
    });
    at += RECORD_HEADER + length;
  }
  return records;
}

export function encodeRecord(r: DtlsRecord): Uint8Array {
  return new Writer().u8(r.type).u16(r.version).u16(r.epoch).uint(6, r.sequence).vector(2, r.fragment).finish();
}

function epochAndSequence(epoch: number, sequence: number): Uint8Array {
  return new Writer().u16(epoch).uint(6, sequence).finish();
}

function additionalData(epoch: number, sequence: number, type: number, version: number, length: number): Uint8Array {
  return new Writer().u16(epoch).uint(6, sequence).u8(type).u16(version).u16(length).finish();
}

/** RFC 6347 §4.1.2.6: a 64-record sliding window per epoch. */
class ReplayWindow {
  private top = -1;
  private readonly seen = new Set<number>();

  accepts(sequence: number): boolean {
    return sequence > this.top || (sequence > this.top - 64 && !this.seen.has(sequence));
  }

  mark(sequence: number): void {
    this.seen.add(sequence);
    if (sequence > this.top) {
      this.top = sequence;
      for (const s of this.seen) if (s <= this.top - 64) this.seen.delete(s);
    }
  }
}

interface EpochState {
  cipher?: RecordCipher;
  sequence: number;
  window: ReplayWindow;
}

/**
 * Record protection per epoch: epoch 0 is plaintext, epoch 1 the negotiated AES-GCM keys. Both stay usable for
 * writing during the handshake, since a retransmitted last flight mixes them (ChangeCipherSpec, then Finished).
 */
export class RecordLayer {
  private readonly writers: EpochState[] = [{ sequence: 0, window: new ReplayWindow() }];
  private readonly readers: EpochState[] = [{ sequence: 0, window: new ReplayWindow() }];

  get writeEpoch(): number {
    return this.writers.length - 1;
  }

  get readEpoch(): number {
    return this.readers.length - 1;
  }

  installWriter(cipher: RecordCipher): void {
    this.writers.push({ cipher, sequence: 0, window: new ReplayWindow() });
  }

  installReader(cipher: RecordCipher): void {
    this.readers.push({ cipher, sequence: 0, window: new ReplayWindow() });
  }

  seal(type: number, plaintext: Uint8Array, epoch = this.writeEpoch): Uint8Array {
    const state = this.writers[epoch]!;
    const sequence = state.sequence++;
    const fragment = state.cipher
      ? state.cipher.seal(epochAndSequence(epoch, sequence), additionalData(epoch, sequence, type, DTLS_1_2, plaintext.length), plaintext)
      : plaintext;
    return encodeRecord({ type, version: DTLS_1_2, epoch, sequence, fragment });
  }

  /** The record's plaintext, or undefined to discard it (unknown epoch, replayed, or not authentic). */
  open(record: DtlsRecord): Uint8Array | undefined {
    const state = this.readers[record.epoch];
    if (!state || !state.window.accepts(record.sequence)) return undefined;
    const plaintext = state.cipher
      ? state.cipher.open((n) => additionalData(record.epoch, record.sequence, record.type, record.version, n), record.fragment)
      : record.fragment;
    if (plaintext) state.window.mark(record.sequence);
    return plaintext;
  }
}
