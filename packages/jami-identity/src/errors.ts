import { JamiError } from "jami-core";

/** Every failure the identity layer reports: `code` is stable, `message` is for people. */
export type IdentityErrorCode =
  | "ARCHIVE_BAD_PASSWORD"
  | "ARCHIVE_PASSWORD_REQUIRED"
  | "ARCHIVE_CORRUPT"
  | "ARCHIVE_INVALID"
  | "CERT_INVALID"
  | "KEY_INVALID"
  | "KEY_MISMATCH"
  | "CHAIN_EMPTY"
  | "CHAIN_ISSUER_MISMATCH"
  | "CHAIN_BAD_SIGNATURE"
  | "CHAIN_NOT_CA"
  | "CHAIN_EXPIRED"
  | "CHAIN_NOT_YET_VALID"
  | "CHAIN_SELF_SIGNED_DEVICE"
  | "CHAIN_UNTRUSTED_ROOT"
  | "CHAIN_WRONG_ACCOUNT"
  | "CHAIN_REVOKED"
  | "CHAIN_WEAK"
  | "CRL_INVALID"
  | "CRL_BAD_SIGNATURE"
  | "ACCOUNT_EXISTS"
  | "ACCOUNT_NOT_FOUND"
  | "ACCOUNT_CORRUPT"
  | "INVALID_ID";

export class IdentityError extends JamiError<IdentityErrorCode> {
  override name = "IdentityError";
}

export function isIdentityError(e: unknown, code?: IdentityErrorCode): e is IdentityError {
  return e instanceof IdentityError && (code === undefined || e.code === code);
}
