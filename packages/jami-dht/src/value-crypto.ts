/**
 * OpenDHT's hybrid public-key encryption (`PublicKey::encrypt` / `PrivateKey::decrypt`):
 * one RSA PKCS#1 v1.5 block when the plaintext fits, else RSA(aesKey) || iv[12] || AES-GCM(plaintext) || tag[16].
 */
import { constants, createCipheriv, createDecipheriv, privateDecrypt, publicEncrypt, randomBytes } from "node:crypto";
import type { PrivateKey, PublicKey } from "jami-identity";
import { DhtError } from "./errors.js";

const GCM_IV = 12;
const GCM_TAG = 16;

function modulusBytes(key: PublicKey): number {
  const bits = key.keyObject.asymmetricKeyDetails?.modulusLength;
  if (!bits || key.keyObject.asymmetricKeyType !== "rsa") throw new DhtError("INVALID_ARGUMENT", "encryption needs an RSA key");
  return Math.ceil(bits / 8);
}

function rsaEncrypt(key: PublicKey, data: Uint8Array): Uint8Array {
  return publicEncrypt({ key: key.keyObject, padding: constants.RSA_PKCS1_PADDING }, data);
}

/**
 * Node 20 refuses PKCS#1 v1.5 private decryption (CVE-2023-46809, without OpenSSL's implicit rejection), so the
 * block is decrypted raw and the padding checked here; every failure gives the same error, whatever the cause.
 */
function rsaDecrypt(key: PrivateKey, block: Uint8Array): Uint8Array {
  let em: Buffer;
  try {
    em = privateDecrypt({ key: key.keyObject, padding: constants.RSA_NO_PADDING }, block);
  } catch (cause) {
    throw new DhtError("DECRYPT_FAILED", "cannot decrypt: not for this key", { cause });
  }
  let separator = -1;
  let bad = em[0]! | (em[1]! ^ 2);
  for (let i = 2; i < em.length; i++) {
    const isZero = em[i] === 0 ? 1 : 0;
    if (separator < 0 && isZero) separator = i;
  }
  bad |= separator < 10 ? 1 : 0;
  if (bad) throw new DhtError("DECRYPT_FAILED", "cannot decrypt: not for this key");
  return em.subarray(separator + 1);
}

export function encryptFor(recipient: PublicKey, plaintext: Uint8Array): Uint8Array {
  const k = modulusBytes(recipient);
  if (plaintext.length <= k - 11) return rsaEncrypt(recipient, plaintext);
  const aesKeyLength = [32, 24, 16].find((n) => n <= k - 11);
  if (!aesKeyLength) throw new DhtError("INVALID_ARGUMENT", "RSA key too small to carry an AES key");
  const aesKey = randomBytes(aesKeyLength);
  const iv = randomBytes(GCM_IV);
  const cipher = createCipheriv(`aes-${aesKeyLength * 8}-gcm` as "aes-256-gcm", aesKey, iv);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([rsaEncrypt(recipient, aesKey), iv, body, cipher.getAuthTag()]);
}

export function decryptWith(key: PrivateKey, cypher: Uint8Array): Uint8Array {
  const k = modulusBytes(key.publicKey);
  if (cypher.length === k) return rsaDecrypt(key, cypher);
  if (cypher.length <= k + GCM_IV + GCM_TAG) throw new DhtError("DECRYPT_FAILED", "cypher too short");
  const aesKey = rsaDecrypt(key, cypher.subarray(0, k));
  if (![16, 24, 32].includes(aesKey.length)) throw new DhtError("DECRYPT_FAILED", "cannot decrypt: bad key block");
  const iv = cypher.subarray(k, k + GCM_IV);
  const tag = cypher.subarray(cypher.length - GCM_TAG);
  try {
    const decipher = createDecipheriv(`aes-${aesKey.length * 8}-gcm` as "aes-256-gcm", aesKey, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(cypher.subarray(k + GCM_IV, cypher.length - GCM_TAG)), decipher.final()]);
  } catch (cause) {
    throw new DhtError("DECRYPT_FAILED", "cannot decrypt: authentication failed", { cause });
  }
}
