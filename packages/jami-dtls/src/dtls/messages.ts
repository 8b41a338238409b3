import { AlertDescription, DtlsAlert } from "./alert.js";
import { Reader, Writer } from "./wire.js";

export const ExtensionType = {
  supported_groups: 10,
  ec_point_formats: 11,
  signature_algorithms: 13,
  extended_master_secret: 23,
  renegotiation_info: 0xff01,
} as const;

export type Extensions = Map<number, Uint8Array>;

export interface ClientHello {
  version: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cookie: Uint8Array;
  cipherSuites: number[];
  compressionMethods: Uint8Array;
  extensions: Extensions;
}

export interface ServerHello {
  version: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuite: number;
  compressionMethod: number;
  extensions: Extensions;
}

function writeExtensions(w: Writer, extensions: Extensions): Writer {
  if (extensions.size === 0) return w;
  const body = new Writer();
  for (const [type, data] of extensions) body.u16(type).vector(2, data);
  return w.vector(2, body.finish());
}

function readExtensions(r: Reader): Extensions {
  const out: Extensions = new Map();
  if (!r.remaining) return out;
  const body = new Reader(r.vector(2));
  while (body.remaining) {
    const type = body.u16();
    if (out.has(type)) throw new DtlsAlert(AlertDescription.illegal_parameter, `extension ${type} sent twice`);
    out.set(type, body.vector(2));
  }
  return out;
}

export function encodeClientHello(m: ClientHello): Uint8Array {
  const w = new Writer().u16(m.version).bytes(m.random).vector(1, m.sessionId).vector(1, m.cookie).u16List(2, m.cipherSuites).vector(1, m.compressionMethods);
  return writeExtensions(w, m.extensions).finish();
}

export function decodeClientHello(body: Uint8Array): ClientHello {
  const r = new Reader(body);
  const m: ClientHello = {
    version: r.u16(),
    random: r.take(32),
    sessionId: r.vector(1),
    cookie: r.vector(1),
    cipherSuites: r.u16List(2),
    compressionMethods: r.vector(1),
    extensions: readExtensions(r),
  };
  r.end();
  return m;
}

export function encodeServerHello(m: ServerHello): Uint8Array {
  const w = new Writer().u16(m.version).bytes(m.random).vector(1, m.sessionId).u16(m.cipherSuite).u8(m.compressionMethod);
  return writeExtensions(w, m.extensions).finish();
}

export function decodeServerHello(body: Uint8Array): ServerHello {
  const r = new Reader(body);
  const m: ServerHello = {
    version: r.u16(),
    random: r.take(32),
    sessionId: r.vector(1),
    cipherSuite: r.u16(),
    compressionMethod: r.u8(),
    extensions: readExtensions(r),
  };
  r.end();
  return m;
}

export function encodeHelloVerifyRequest(version: number, cookie: Uint8Array): Uint8Array {
  return new Writer().u16(version).vector(1, cookie).finish();
}

export function decodeHelloVerifyRequest(body: Uint8Array): { version: number; cookie: Uint8Array } {
  const r = new Reader(body);
  const m = { version: r.u16(), cookie: r.vector(1) };
  r.end();
  return m;
}

export function encodeCertificates(chain: readonly Uint8Array[]): Uint8Array {
  const list = new Writer();
  for (const der of chain) list.vector(3, der);
  return new Writer().vector(3, list.finish()).finish();
}

export function decodeCertificates(body: Uint8Array): Uint8Array[] {
  const r = new Reader(body);
  const list = new Reader(r.vector(3));
  r.end();
  const out: Uint8Array[] = [];
  while (list.remaining) out.push(list.vector(3));
  return out;
}

/** ServerECDHParams (RFC 8422 §5.4): named curve, then the point. */
export function encodeEcdhParams(group: number, publicKey: Uint8Array): Uint8Array {
  return new Writer().u8(3).u16(group).vector(1, publicKey).finish();
}

export interface ServerKeyExchange {
  /** The signed part, exactly as sent. */
  params: Uint8Array;
  group: number;
  publicKey: Uint8Array;
  scheme: number;
  signature: Uint8Array;
}

export function encodeServerKeyExchange(params: Uint8Array, scheme: number, signature: Uint8Array): Uint8Array {
  return new Writer().bytes(params).u16(scheme).vector(2, signature).finish();
}

export function decodeServerKeyExchange(body: Uint8Array): ServerKeyExchange {
  const r = new Reader(body);
  if (r.u8() !== 3) throw new DtlsAlert(AlertDescription.illegal_parameter, "only named curves are supported");
  const group = r.u16();
  const publicKey = r.vector(1);
  const params = body.subarray(0, 4 + publicKey.length);
  const m = { params, group, publicKey, scheme: r.u16(), signature: r.vector(2) };
  r.end();
  return m;
}

export interface CertificateRequest {
  certificateTypes: Uint8Array;
  schemes: number[];
}

/** rsa_sign and ecdsa_sign; no certificate authorities named (Jami chains are self-contained). */
export function encodeCertificateRequest(schemes: readonly number[]): Uint8Array {
  return new Writer().vector(1, Uint8Array.of(1, 64)).u16List(2, schemes).vector(2, new Uint8Array(0)).finish();
}

export function decodeCertificateRequest(body: Uint8Array): CertificateRequest {
  const r = new Reader(body);
  const m = { certificateTypes: r.vector(1), schemes: r.u16List(2) };
  r.vector(2);
  r.end();
  return m;
}

export function encodeSigned(scheme: number, signature: Uint8Array): Uint8Array {
  return new Writer().u16(scheme).vector(2, signature).finish();
}

export function decodeSigned(body: Uint8Array): { scheme: number; signature: Uint8Array } {
  const r = new Reader(body);
  const m = { scheme: r.u16(), signature: r.vector(2) };
  r.end();
  return m;
}

export function decodeClientKeyExchange(body: Uint8Array): Uint8Array {
  const r = new Reader(body);
  const point = r.vector(1);
  r.end();
  return point;
}

export function encodeClientKeyExchange(publicKey: Uint8Array): Uint8Array {
  return new Writer().vector(1, publicKey).finish();
}

/** Our extensions' bodies. */
export const encodeU16List = (values: readonly number[]): Uint8Array => new Writer().u16List(2, values).finish();
export const decodeU16List = (body: Uint8Array): number[] => {
  const r = new Reader(body);
  const list = r.u16List(2);
  r.end();
  return list;
};
export const EMPTY_RENEGOTIATION_INFO = Uint8Array.of(0);
export const UNCOMPRESSED_POINTS = Uint8Array.of(1, 0);
