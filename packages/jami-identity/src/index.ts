/**
 * Jami identities: account and device certificates byte-compatible with jamid, Jami ID and device ids, chain
 * verification, revocation lists, the account archive and account directories. The building blocks (PEM,
 * the certificate builder, the archive's key stretching and ciphers) are in `jami-identity/internal`.
 * @packageDocumentation
 * @module jami-identity
 */
export { IdentityError, isIdentityError, type IdentityErrorCode } from "./errors.js";
export { JamiId, DeviceId, DeviceShortId } from "./ids.js";
export { PrivateKey, PublicKey, type HashName } from "./keys.js";
export { Certificate, type DistinguishedName } from "./certificate.js";
export {
  createAccountKeys,
  accountKeysFrom,
  createDevice,
  certifyDevice,
  deviceChain,
  deviceChainPem,
  jamiIdOf,
  deviceIdOf,
  deviceShortIdOf,
  type AccountKeys,
  type DeviceIdentity,
  type CreateAccountKeysOptions,
  type CreateDeviceOptions,
} from "./identity.js";
export { verifyDeviceChain, MIN_RSA_BITS, type VerifyChainOptions, type VerifiedDevice } from "./chain.js";
export { RevocationList, type RevokedEntry } from "./crl.js";
export { AccountArchive, readArchive, writeArchive, type ArchiveContact, type ArchiveConversation, type ArchiveFields } from "./archive.js";
export {
  createAccount,
  importAccount,
  loadAccount,
  openAccountArchive,
  exportAccount,
  changeAccountPassword,
  revokeDevice,
  ACCOUNT_FILES,
  type LocalAccount,
  type CreateAccountOptions,
  type ImportAccountOptions,
} from "./account-dir.js";
