// Tests run the TypeScript sources directly (through @swc/jest), so `npm test`
// checks what is in src/ even before a build; packages resolve each other
// through their public src/index.ts only.
const esmOnly = ["pkijs", "asn1js", "sip\\.js", "@peculiar", "pvtsutils", "pvutils", "bytestreamjs"];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/packages"],
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
    "^(\\.{1,2}/.*)\\.js$": "$1",
  },
  // A failing test may leave a socket open; the run must still end (and report) rather than hang CI.
  forceExit: true,
  testTimeout: 60000,
};
