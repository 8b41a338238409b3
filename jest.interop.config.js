// Interop tests drive the real reference programs (jamid, dhtnode) and need
// root for the network namespace; `npm run test:interop` runs them in band.
const base = require("./jest.config.js");

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ["**/test/**/*.interop.test.ts"],
  testPathIgnorePatterns: ["/node_modules/"],
  // A failing test may leave a socket open; the run must still end (and report) rather than hang CI.
  forceExit: true,
  testTimeout: 240000,
};
