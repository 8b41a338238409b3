/**
 * The account's own vCard, as the profile feature keeps it: what a trust request carries (jamid's clients put the
 * sender's vCard there, and show the name from it). Without the profile feature there is none.
 */
export class OwnCardSlot {
  private read?: () => { bytes: Uint8Array; displayName?: string } | undefined;

  provide(read: () => { bytes: Uint8Array; displayName?: string } | undefined): void {
    this.read = read;
  }

  /** The vCard's bytes. */
  current(): Uint8Array | undefined {
    return this.read?.()?.bytes;
  }

  /** The display name it holds (what our SIP `From` shows, as jamid's shows its account's). */
  displayName(): string | undefined {
    return this.read?.()?.displayName;
  }
}
