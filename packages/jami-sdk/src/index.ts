export { runCli } from "./cli/run.js";
export type { CliIo } from "./cli/output.js";
