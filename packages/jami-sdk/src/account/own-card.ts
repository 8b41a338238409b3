/**
 * The account's own vCard, as the profile feature keeps it: what a trust request carries (jamid's clients put the
 * sender's vCard there, and show the name from it). Without the profile feature there is none.
 */
export class OwnCardSlot {
  private read?: () => Uint8Array | undefined;

  provide(read: () => Uint8Array | undefined): void {
    this.read = read;
  }

  current(): Uint8Array | undefined {
    return this.read?.();
  }
}
