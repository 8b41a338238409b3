#!/usr/bin/env node
// Reads jest --json result files and prints CI's closing line: "N passed, N failed".
// A suite that failed to run (compile error, crash) counts as one failure; a
// missing result file (the runner never got to write it) counts as one too.
const { readFileSync } = require("node:fs");

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  let result;
  try {
    result = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    console.error(`no test results in ${file}`);
    failed += 1;
    continue;
  }
  passed += result.numPassedTests;
  failed += result.numFailedTests;
  skipped += result.numPendingTests + (result.numTodoTests ?? 0);
  for (const suite of result.testResults ?? []) {
    const ranNone = (suite.assertionResults ?? []).every((a) => a.status !== "failed");
    if (suite.status === "failed" && ranNone) {
      console.error(`suite failed to run: ${suite.name}\n${suite.message ?? ""}`);
      failed += 1;
    }
  }
}
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
process.exitCode = failed > 0 ? 1 : 0;
