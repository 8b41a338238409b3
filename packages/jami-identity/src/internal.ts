/**
 * `jami-identity/internal`: the building blocks under the public API (PEM, the certificate builder, the
 * archive's key stretching and ciphers). Used by tests and benches; no stability promise between versions.
 */
export { issueCertificate, DEFAULT_VALIDITY_DAYS, type IssueOptions } from "./certificate-builder.js";
export { decodePem, encodePem, type PemBlock } from "./pem.js";
export { stretchKey, aesGcmEncrypt, aesGcmDecrypt, passwordEncrypt, passwordDecrypt } from "./archive-crypto.js";
