// ESLint with typescript-eslint: its recommended rules, plus the type-aware rules that catch what
// costs most in an asynchronous pipeline (a promise nobody awaits loses an object's outcome).
// Formatting is Prettier's (.prettierrc.json), layering is dependency-cruiser's (.dependency-cruiser.cjs),
// unused files and exports are knip's (knip.json): `npm run lint` runs all four.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      ".build/",
      ".local/",
      "layer/dist/",
      "layer/.build/",
      "bench/results/",
      "bench/.cache/",
      "test/browser/output/",
      "test/soak/results/",
      "coverage/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts", "**/*.mts"],
    languageOptions: { globals: globals.node, parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
    },
  },
  {
    // Tests, benchmarks and the Pulumi dry run read loosely typed fixtures (mock inputs, parsed JSON): `any` is their vocabulary.
    files: ["test/**/*.ts", "bench/**/*.ts", "fixtures/pulumi-dry-run.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off", "@typescript-eslint/no-non-null-assertion": "off" },
  },
  {
    // The console's page: plain browser JavaScript, no build step.
    files: ["local/console/static/**/*.js"],
    languageOptions: { sourceType: "script", globals: globals.browser },
  },
  {
    // The CloudFront Function (cloudfront-js-2.0): CloudFront calls `handler` by name, and the
    // policy is put in place of __POLICY__ when the code is built (edge/edge.ts). Its catch
    // clauses name their error: CloudFront's JavaScript runtime is not documented to take `catch {`.
    files: ["edge/edge-function.js"],
    languageOptions: { sourceType: "module", globals: { __POLICY__: "readonly" } },
    rules: {
      "no-unused-vars": ["error", { varsIgnorePattern: "^handler$", caughtErrors: "none" }],
      "@typescript-eslint/no-unused-vars": ["error", { varsIgnorePattern: "^handler$", caughtErrors: "none" }],
    },
  },
  {
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: globals.node },
  },
);
