import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Bytes OpenDHT produced (copied from the project's shared vectors; see vectors/opendht/README.md). */
export const OPENDHT_VECTORS = join(__dirname, "vectors/opendht");

export interface PacketVector {
  file: string;
  kind: string;
  hex: string;
  bytes: Uint8Array;
  fragmented?: boolean;
  fragments?: { hex: string }[];
  values?: { hex: string; kind: string }[];
  key_preimage?: string;
}

export function packetVectors(): PacketVector[] {
  return readdirSync(OPENDHT_VECTORS)
    .filter((f) => f.endsWith(".json") && f !== "summary.json")
    .sort()
    .map((file) => {
      const v = JSON.parse(readFileSync(join(OPENDHT_VECTORS, file), "utf8")) as PacketVector;
      return { ...v, file, bytes: Buffer.from(v.hex, "hex") };
    });
}

export function valueVector(name: string): Record<string, unknown> & { hex: string } {
  return JSON.parse(readFileSync(join(OPENDHT_VECTORS, "values", `${name}.json`), "utf8")) as Record<string, unknown> & { hex: string };
}

export function identityPem(name: string): string {
  return readFileSync(join(OPENDHT_VECTORS, "identity", name), "utf8");
}
