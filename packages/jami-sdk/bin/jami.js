#!/usr/bin/env node
// The `jami` command. This file is committed so that it exists when npm installs the package and links the
// bin (a bin pointing into dist/ is not linked before the build). It runs the built CLI; in a checkout of the
// jami-ts repository that is not built yet, it runs the TypeScript sources through tsx instead.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const built = new URL("../dist/cli.js", import.meta.url);
const repoTsconfig = fileURLToPath(new URL("../../../tsconfig.json", import.meta.url));

if (existsSync(built)) {
  await import(built.href);
} else if (existsSync(repoTsconfig) && existsSync(new URL("../src/cli.ts", import.meta.url))) {
  const { register } = await import("tsx/esm/api");
  register({ tsconfig: repoTsconfig });
  await import(new URL("../src/cli.ts", import.meta.url).href);
} else {
  console.error("jami: the package is not built (run `npm run build`)");
  process.exitCode = 1;
}
