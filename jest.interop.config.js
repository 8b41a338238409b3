// Interop tests drive the real reference programs (jamid, dhtnode) and need
// root for the network namespace; `npm run test:interop` runs them in band.
const base = require("./jest.config.js");

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ["**/test/**/*.interop.test.ts"],
  testPathIgnorePatterns: ["/node_modules/"],
  testTimeout: 240000,
};
