import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import argon2 from "argon2";
import { asBytes } from "jami-core";
import { IdentityError } from "./errors.js";

export const SALT_LENGTH = 16;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;

/**
 * OpenDHT's `stretchKey`: SHA-256 of Argon2i(password, salt, t=16, m=64 MiB,
 * p=1, 32 bytes, version 0x13). Also what the 13.7 PIN export derives its key with.
 */
export async function stretchKey(password: string | Uint8Array, salt: Uint8Array): Promise<Uint8Array> {
  const raw = await argon2.hash(typeof password === "string" ? password : Buffer.from(password), {
    type: argon2.argon2i,
    raw: true,
    salt: Buffer.from(salt),
    timeCost: 16,
    memoryCost: 65536,
    parallelism: 1,
    hashLength: 32,
    version: 0x13,
  });
  return asBytes(createHash("sha256").update(raw).digest());
}

/** `nonce[12] ‖ AES-256-GCM(key, plaintext) ‖ tag[16]`, no associated data (OpenDHT `aesEncrypt`). */
export function aesGcmEncrypt(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const nonce = randomBytes(NONCE_LENGTH);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return asBytes(Buffer.concat([nonce, body, cipher.getAuthTag()]));
}

/** Inverse of `aesGcmEncrypt`; a tag mismatch (wrong key or altered bytes) is `ARCHIVE_BAD_PASSWORD`. */
export function aesGcmDecrypt(key: Uint8Array, sealed: Uint8Array): Uint8Array {
  if (sealed.byteLength < NONCE_LENGTH + TAG_LENGTH) {
    throw new IdentityError("ARCHIVE_CORRUPT", "encrypted data is shorter than its nonce and tag");
  }
  const nonce = sealed.subarray(0, NONCE_LENGTH);
  const tag = sealed.subarray(sealed.byteLength - TAG_LENGTH);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAuthTag(tag);
  try {
    return asBytes(Buffer.concat([decipher.update(sealed.subarray(NONCE_LENGTH, sealed.byteLength - TAG_LENGTH)), decipher.final()]));
  } catch (cause) {
    throw new IdentityError("ARCHIVE_BAD_PASSWORD", "cannot decrypt: wrong password, or the encrypted data was altered", { cause });
  }
}

/** Password container: `salt[16] ‖ nonce[12] ‖ ciphertext ‖ tag[16]`. */
export async function passwordEncrypt(password: string, plaintext: Uint8Array): Promise<Uint8Array> {
  const salt = new Uint8Array(randomBytes(SALT_LENGTH));
  const key = await stretchKey(password, salt);
  return asBytes(Buffer.concat([salt, aesGcmEncrypt(key, plaintext)]));
}

export async function passwordDecrypt(password: string, data: Uint8Array): Promise<Uint8Array> {
  if (data.byteLength < SALT_LENGTH + NONCE_LENGTH + TAG_LENGTH) {
    throw new IdentityError("ARCHIVE_CORRUPT", `encrypted archive is truncated (${data.byteLength} bytes)`);
  }
  const key = await stretchKey(password, data.subarray(0, SALT_LENGTH));
  return aesGcmDecrypt(key, data.subarray(SALT_LENGTH));
}
