// Lint: ESLint's and typescript-eslint's recommended rules (syntax-level, no type information: fast enough for
// every CI run). `npm run lint` checks lint and format; `npm run format` rewrites the format.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "docs/api/**", "bench/results/**", "packages/*/bin/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", setImmediate: "readonly", __dirname: "readonly", require: "readonly", module: "writable", URL: "readonly", TextEncoder: "readonly", TextDecoder: "readonly", AbortController: "readonly", AbortSignal: "readonly", performance: "readonly", structuredClone: "readonly", queueMicrotask: "readonly" } },
    rules: {
      // `_name` marks a parameter or binding kept for its position or to leave it out of a spread.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      // The codecs pick one of several writes with a conditional expression.
      "@typescript-eslint/no-unused-expressions": ["error", { allowTernary: true, allowShortCircuit: true }],
    },
  },
  // Tests read untyped JSON (CLI output, jest results).
  { files: ["**/test/**", "scripts/test/**"], rules: { "@typescript-eslint/no-explicit-any": "off" } },
  // CommonJS files (jest configs, scripts run by node directly).
  { files: ["**/*.cjs", "jest.config.js", "jest.interop.config.js"], rules: { "@typescript-eslint/no-require-imports": "off" } },
);
