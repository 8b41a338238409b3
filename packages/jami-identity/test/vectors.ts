import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** Files jamid 13.7 produced (copied from the project's shared vectors; see vectors/jami/README.md). */
export const JAMI_VECTORS = resolve(__dirname, "vectors/jami");

export function vectorBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(resolve(JAMI_VECTORS, name)));
}

export function vectorText(name: string): string {
  return readFileSync(resolve(JAMI_VECTORS, name), "utf8");
}

interface VectorDevice {
  deviceId: string;
  deviceShortId: string;
}

export const IDS = JSON.parse(vectorText("ids.json")) as {
  alice: { jamiId: string; caId: string; devices: Record<"alice" | "alice-device2", VectorDevice> };
  bob: { jamiId: string; caId: string; devices: Record<"bob", VectorDevice> };
};

export const WHO = [
  { who: "alice", jamiId: IDS.alice.jamiId, caId: IDS.alice.caId, ...IDS.alice.devices.alice },
  { who: "alice-device2", jamiId: IDS.alice.jamiId, caId: IDS.alice.caId, ...IDS.alice.devices["alice-device2"] },
  { who: "bob", jamiId: IDS.bob.jamiId, caId: IDS.bob.caId, ...IDS.bob.devices.bob },
] as const;
