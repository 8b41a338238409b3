import { decodeMsgpackPrefix, type MsgValue } from "jami-core";
import type { Channel } from "jami-dtls";

/**
 * Reads a channel that carries msgpack items one after the other with no framing of their own (jamid's `sync://` and
 * today's `msg:`): each complete item goes to `onItem`; an item larger than `maxItemBytes`, or bytes that are not
 * msgpack, close the channel (`onRefused` says why). The link and its other channels are not touched.
 */
export function readMsgpackItems(channel: Channel, maxItemBytes: number, onItem: (value: MsgValue) => void, onRefused: (why: string) => void): void {
  let buffered = new Uint8Array(0);
  channel.on("data", (chunk: Buffer) => {
    const next = new Uint8Array(buffered.length + chunk.length);
    next.set(buffered);
    next.set(chunk, buffered.length);
    buffered = next;
    for (;;) {
      let item: ReturnType<typeof decodeMsgpackPrefix>;
      try {
        item = decodeMsgpackPrefix(buffered);
      } catch (error) {
        onRefused(`not msgpack: ${(error as Error).message}`);
        return void channel.destroy();
      }
      if (!item) break;
      if (item.length > maxItemBytes) {
        onRefused(`an item of ${item.length} bytes (at most ${maxItemBytes})`);
        return void channel.destroy();
      }
      buffered = buffered.slice(item.length);
      onItem(item.value);
    }
    // what is left is the start of an item: refused once it alone is over the bound
    if (buffered.length > maxItemBytes) {
      onRefused(`an item over ${maxItemBytes} bytes`);
      channel.destroy();
    }
  });
}
