import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ipBytes, type SocketAddress } from "./node-entry.js";

/** Between 15 and 45 minutes, as OpenDHT rotates its token secret. */
const rotationDelay = (): number => (15 + Math.random() * 30) * 60_000;

/**
 * Write tokens bound to the requester's address: SHA-256(secret || ip || port), 32 bytes. The previous secret
 * stays valid after a rotation, so a token lives at least one full rotation period.
 */
export class TokenIssuer {
  private secret = randomBytes(8);
  private previous = randomBytes(8);
  private rotateAt: number;

  constructor(now: number) {
    this.rotateAt = now + rotationDelay();
  }

  private make(secret: Uint8Array, to: SocketAddress): Buffer {
    const port = Buffer.alloc(2);
    port.writeUInt16BE(to.port);
    return createHash("sha256").update(secret).update(ipBytes(to.address)).update(port).digest();
  }

  private maybeRotate(now: number): void {
    if (now < this.rotateAt) return;
    this.previous = this.secret;
    this.secret = randomBytes(8);
    this.rotateAt = now + rotationDelay();
  }

  /** Forces a rotation (tests, or a suspected leak). */
  rotate(now: number): void {
    this.rotateAt = now;
    this.maybeRotate(now);
  }

  issue(to: SocketAddress, now: number): Uint8Array {
    this.maybeRotate(now);
    return this.make(this.secret, to);
  }

  check(token: Uint8Array | undefined, from: SocketAddress, now: number): boolean {
    this.maybeRotate(now);
    if (!token || token.length !== 32) return false;
    return timingSafeEqual(token, this.make(this.secret, from)) || timingSafeEqual(token, this.make(this.previous, from));
  }
}
