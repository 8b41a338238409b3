import createDebug from "debug";
import { Certificate, type PrivateKey, type PublicKey } from "jami-identity";
import type { DhtClient, GetOptions, PutOptions, PutResult } from "./client.js";
import { DhtError } from "./errors.js";
import type { InfoHash } from "./infohash.js";
import { encodeMsgpack as encode, type AbortOptions } from "jami-core";
import { Subscription } from "./subscription.js";
import { publicKeyId, Value, ValueField } from "./value.js";
import { certificatePemOf, ValueType } from "./value-types.js";

const log = createDebug("jami:dht:secure");

/** The certificate announcement's value id, as OpenDHT uses. */
export const CERTIFICATE_VALUE_ID = 1n;
const CACHE_LIMIT = 1024;

export interface SecureIdentity {
  key: PrivateKey;
  /** PEM chain: this key's certificate first, then its issuers. Announced at the key's id. */
  certificateChainPem?: string;
}

export interface SecureGetOptions extends GetOptions {
  /** Also yield values that are encrypted for someone else (as opaque values). Default false. */
  includeUndecryptable?: boolean;
  /**
   * Only values that arrived encrypted to our key (so signed, addressed to us and decrypted): what an inbox
   * reads. A signed value sent to someone else can be re-published in the clear at any key; this refuses it.
   */
  requireEncrypted?: boolean;
}

/**
 * OpenDHT's SecureDht on top of a node: signed and encrypted puts, and gets / listens that verify signatures,
 * decrypt what is addressed to us and drop forgeries; the node's certificate is announced at its key id and
 * other certificates are found (and cached) by key id.
 */
export class SecureDht {
  private readonly certificates = new Map<string, Certificate>();
  private readonly seqs = new Map<string, number>();
  /** Our public key id (SHA-1 of the SPKI): where our certificate lives and what `to` holds. */
  readonly keyId: InfoHash | undefined;

  constructor(
    readonly node: DhtClient,
    readonly identity?: SecureIdentity,
  ) {
    this.keyId = identity ? publicKeyId(identity.key.publicKey) : undefined;
  }

  private requireIdentity(): SecureIdentity {
    if (!this.identity) throw new DhtError("INVALID_ARGUMENT", "this operation needs an identity");
    return this.identity;
  }

  /** Permanent put of our certificate chain at our key id (type 8, id 1, data = msgpack bin(PEM)). */
  async announceCertificate(options: PutOptions = {}): Promise<PutResult> {
    const { key, certificateChainPem } = this.requireIdentity();
    if (!certificateChainPem) throw new DhtError("INVALID_ARGUMENT", "identity has no certificate to announce");
    const value = new Value({ id: CERTIFICATE_VALUE_ID, type: ValueType.Certificate, data: encode(Buffer.from(certificateChainPem)) });
    return this.node.put(publicKeyId(key.publicKey), value, { permanent: true, ...options });
  }

  /**
   * Signs and puts: the seq is one above any version of (key, id) we signed before, here or found on the DHT
   * (`SecureDht::putSigned`).
   */
  async putSigned(key: InfoHash, value: Value, options: PutOptions = {}): Promise<PutResult> {
    const { key: privateKey } = this.requireIdentity();
    const ours = publicKeyId(privateKey.publicKey);
    const slot = `${key}/${value.id}`;
    let seq = this.seqs.has(slot) ? this.seqs.get(slot)! + 1 : value.seq;
    for await (const found of this.node.get(key, { filter: { select: [], where: [{ field: ValueField.Id, value: value.id }] }, signal: options.signal })) {
      if (found.owner && publicKeyId(found.owner).equals(ours) && found.seq >= seq) seq = found.seq + 1;
    }
    if (seq > 0xffff) throw new DhtError("INVALID_ARGUMENT", "seq overflow: value edited 65535 times");
    const signed = value.clone().sign(privateKey, seq);
    this.seqs.set(slot, seq);
    return this.node.put(key, signed, options);
  }

  /** Signs, encrypts for `to` (a key, or a key id whose certificate is looked up) and puts. */
  async putEncrypted(key: InfoHash, value: Value, to: PublicKey | InfoHash, options: PutOptions = {}): Promise<PutResult> {
    const { key: privateKey } = this.requireIdentity();
    const recipient = "spki" in to ? to : await this.findPublicKey(to, options);
    return this.node.put(key, value.encrypt(privateKey, recipient), options);
  }

  /**
   * Checks one received value: encrypted values are decrypted if they are ours (the inner signature and recipient
   * checked), signed ones must verify and, when addressed, be addressed to us; plain ones pass unless
   * `requireEncrypted`. OpenDHT checks the recipient of encrypted values only; a signed value addressed to
   * another key is refused here too, as it was never meant for us.
   */
  private accept(v: Value, options: SecureGetOptions): Value | undefined {
    if (v.isEncrypted) {
      if (!this.identity) return options.includeUndecryptable ? v : undefined;
      try {
        return v.decrypt(this.identity.key);
      } catch (e) {
        log("dropped encrypted value %s: %s", v.id, (e as Error).message);
        return options.includeUndecryptable && (e as DhtError).code === "DECRYPT_FAILED" ? v : undefined;
      }
    }
    if (options.requireEncrypted) {
      log("dropped value %s: not encrypted to us", v.id);
      return undefined;
    }
    if (v.owner && !v.verifySignature()) {
      log("dropped value %s: bad signature", v.id);
      return undefined;
    }
    if (v.recipient && this.keyId && !v.recipient.equals(this.keyId)) {
      log("dropped value %s: addressed to %s", v.id, v.recipient);
      return undefined;
    }
    return v;
  }

  async *get(key: InfoHash, options: SecureGetOptions = {}): AsyncGenerator<Value, void, undefined> {
    for await (const v of this.node.get(key, options)) {
      const ok = this.accept(v, options);
      if (ok) yield ok;
    }
  }

  async getAll(key: InfoHash, options: SecureGetOptions = {}): Promise<Value[]> {
    const out: Value[] = [];
    for await (const v of this.get(key, options)) out.push(v);
    return out;
  }

  /** A listen that only reports values passing the same checks as `get`. */
  listen(key: InfoHash, options: SecureGetOptions = {}): Subscription {
    const inner = this.node.listen(key, options);
    const outer = new Subscription(key, options.filter);
    inner.on("value", (v) => {
      const ok = this.accept(v, options);
      if (ok) outer.deliver(ok);
    });
    inner.on("expired", (ids) => outer.deliverExpired(ids));
    inner.on("refreshed", (ids) => outer.deliverRefreshed(ids));
    outer.onCancel = () => inner.cancel();
    return outer;
  }

  /** The certificate whose public key id is `id`, from the cache or the DHT (`findCertificate`). */
  async findCertificate(id: InfoHash, options: AbortOptions = {}): Promise<Certificate> {
    const { signal } = options;
    const cached = this.certificates.get(id.toString());
    if (cached) return cached;
    for await (const v of this.node.get(id, { filter: { select: [], where: [{ field: ValueField.ValueType, value: ValueType.Certificate }] }, signal })) {
      const pem = certificatePemOf(v);
      if (!pem) continue;
      try {
        const cert = Certificate.fromPem(pem);
        if (!publicKeyId(cert.publicKey).equals(id)) continue;
        this.cacheCertificate(id, cert);
        return cert;
      } catch {
        log("unreadable certificate at %s", id);
      }
    }
    throw new DhtError("NOT_FOUND", `no certificate found for ${id}`);
  }

  async findPublicKey(id: InfoHash, options: AbortOptions = {}): Promise<PublicKey> {
    return (await this.findCertificate(id, options)).publicKey;
  }

  /** Adds a certificate to the cache (e.g. one received through another channel). */
  registerCertificate(cert: Certificate): void {
    this.cacheCertificate(publicKeyId(cert.publicKey), cert);
  }

  private cacheCertificate(id: InfoHash, cert: Certificate): void {
    if (this.certificates.size >= CACHE_LIMIT) this.certificates.delete(this.certificates.keys().next().value!);
    this.certificates.set(id.toString(), cert);
  }
}
