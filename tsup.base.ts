import { defineConfig, type Options } from "tsup";

/** Every package builds the same way: ESM + CJS + types for Node 20; `extra` adds entries (e.g. a CLI). */
export function packageConfig(extra: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    keepNames: true,
    ...extra,
  });
}
