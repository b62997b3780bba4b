// ESLint: the TypeScript (src, test, bench, examples) is linted with type information, from tsconfig.json; the
// plain JavaScript (bench and scripts .mjs, test fixtures, the signup example's browser script) without it.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

// A leading underscore marks what is unused on purpose: a handler's ignored argument, a property left out of a rest.
const unusedVars = {
  argsIgnorePattern: "^_",
  varsIgnorePattern: "^_",
  caughtErrorsIgnorePattern: "^_",
  ignoreRestSiblings: true,
};

export default defineConfig(
  {
    ignores: [
      "dist/",
      "node_modules/",
      "test-artifacts/",
      ".signup-data/",
      "bench/results/",
      "test/fixtures/prisma/client/",
    ],
  },
  {
    files: ["**/*.ts"],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        // node:test's test() and describe() return promises that the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "describe", "it", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/no-misused-promises": "error",
      // Promise.all over jobs of which some are ready and some still validating (async schemas) is deliberate.
      "@typescript-eslint/await-thenable": ["error", { allowMixedPromiseArrays: true }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", unusedVars],
      // Passing on a caught error (unknown) or an AbortSignal's reason (any) keeps what was thrown, as it was thrown.
      "@typescript-eslint/prefer-promise-reject-errors": [
        "error",
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      // Handlers are async to give errand the shape it awaits; one without an await is not a mistake.
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
    rules: { "no-unused-vars": ["error", unusedVars] },
  },
  {
    files: ["examples/signup/static/**/*.js"],
    languageOptions: { globals: globals.browser },
  },
);
