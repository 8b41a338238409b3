// Tests run the TypeScript sources directly (through @swc/jest), so `npm test`
// checks what is in src/ even before a build; packages resolve each other
// through their public src/index.ts only.
const esmOnly = ["pkijs", "asn1js", "sip\\.js", "@peculiar", "pvtsutils", "pvutils", "bytestreamjs"];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/packages", "<rootDir>/scripts"],
  testMatch: ["**/test/**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "\\.interop\\.test\\.ts$"],
  transform: {
    "^.+\\.(t|j)sx?$": ["@swc/jest", {
      jsc: { parser: { syntax: "typescript", decorators: true }, target: "es2022" },
      module: { type: "commonjs" },
    }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join("|")})/)`],
  moduleNameMapper: {
    "^(jami-[a-z]+)$": "<rootDir>/packages/$1/src/index.ts",
    "^(jami-[a-z]+)/internal$": "<rootDir>/packages/$1/src/internal.ts",
    "^(\\.{1,2}/.*)\\.js$": "$1",
  },
  // A file that leaves a socket, process or timer open fails (test-support/no-leaks.ts); jest exits on its own.
  setupFilesAfterEnv: ["<rootDir>/test-support/no-leaks.ts"],
  testTimeout: 60000,
};
