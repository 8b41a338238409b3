#!/usr/bin/env node
// Reads jest --json result files and prints CI's closing line, alone on the last line: "N passed, N failed".
//   node scripts/test-summary.cjs unit=.jest-results.json:0 interop=.jest-results-interop.json:1 check:lint=0
// `check:name=code` is a check that is not jest (lint): one passed or one failed by its exit code.
// Each other argument is one half of the run: name=file[:jest exit code]. Counted as a failure, each once:
//   - a missing or unreadable result file (the runner never got to write it);
//   - a half that ran no test at all (jest found nothing, or everything was skipped);
//   - a suite that failed to run (compile error, crash);
//   - jest's own failure status (`success: false`, or a non-zero exit code) when no test failed to explain it
//     (e.g. an open handle, a worker that crashed after its tests).
// Skipped tests are counted on the line before, per half, so they cannot go unnoticed.
const { readFileSync } = require("node:fs");

let passed = 0;
let failed = 0;
const notes = [];
for (const arg of process.argv.slice(2)) {
  const check = /^check:([^=]+)=(-?\d+)$/.exec(arg);
  if (check) {
    if (Number(check[2]) === 0) passed += 1;
    else {
      console.error(`${check[1]} failed (exit code ${check[2]}): see its output`);
      failed += 1;
    }
    notes.push(`${check[1]}: ${Number(check[2]) === 0 ? "passed" : "failed"}`);
    continue;
  }
  const match = /^([^=]+)=(.+?)(?::(-?\d+))?$/.exec(arg);
  if (!match) {
    console.error(`usage: test-summary.cjs name=file[:exitCode] ...  (got ${arg})`);
    process.exit(2);
  }
  const [, name, file, exitCode] = match;
  let result;
  try {
    result = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    console.error(`${name}: no test results in ${file}`);
    failed += 1;
    continue;
  }
  const failedBefore = failed;
  passed += result.numPassedTests;
  failed += result.numFailedTests;
  const skipped = result.numPendingTests + (result.numTodoTests ?? 0);
  for (const suite of result.testResults ?? []) {
    const ranNone = (suite.assertionResults ?? []).every((a) => a.status !== "failed");
    if (suite.status === "failed" && ranNone) {
      console.error(`${name}: suite failed to run: ${suite.name}\n${suite.message ?? ""}`);
      failed += 1;
    }
  }
  if (result.numPassedTests + result.numFailedTests === 0) {
    console.error(`${name}: no test ran`);
    failed += 1;
  }
  const jestFailed = result.success === false || (exitCode !== undefined && Number(exitCode) !== 0);
  if (jestFailed && failed === failedBefore) {
    console.error(`${name}: jest reported a failure (exit code ${exitCode ?? "?"}) though no test failed: see its output`);
    failed += 1;
  }
  notes.push(`${name}: ${result.numPassedTests} passed, ${result.numFailedTests} failed, ${skipped} skipped`);
}
if (notes.length) console.log(notes.join("; "));
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
