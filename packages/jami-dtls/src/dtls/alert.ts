/** TLS alert descriptions (RFC 5246 §7.2, RFC 5746). */
export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  handshake_failure: 40,
  bad_certificate: 42,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  no_renegotiation: 100,
  unsupported_extension: 110,
} as const;

export const AlertLevel = { warning: 1, fatal: 2 } as const;

const names = new Map<number, string>(Object.entries(AlertDescription).map(([k, v]) => [v, k]));

export function alertName(description: number): string {
  return names.get(description) ?? `alert ${description}`;
}

/** A handshake failure that the peer is told of with a fatal alert of this description. */
export class DtlsAlert extends Error {
  constructor(
    readonly description: number,
    message: string,
  ) {
    super(message);
  }
}
