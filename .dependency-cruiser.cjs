// The layers of src/, bottom to top, as docs/architecture.md describes them: a folder's number is its floor, and a
// file may import only from its own floor or the ones below. `npm run lint` runs this check, so a cycle or an
// import that runs up the layers fails CI.
const LAYERS = [
  "01-core",
  "02-storage",
  "03-storage-logic",
  "04-engines",
  "05-handles",
  "06-tasks",
  "07-features",
  "08-maintenance",
  "09-worker",
  "10-client",
  "11-dashboard",
  "12-cli",
];

// src/index.ts, the package's face, and its other entry points (http.ts, browser.ts) stand above every layer but the
// CLI, which reads the public API as users do.
const above = (i) => [...LAYERS.slice(i + 1), ...(LAYERS[i] === "12-cli" ? [] : ["(index|http|browser)\\.ts$"])];

const upward = LAYERS.filter((_, i) => above(i).length > 0).map((layer) => {
  const i = LAYERS.indexOf(layer);
  return {
    name: `no-upward-from-${layer}`,
    comment: `${layer} may import only from its own layer and the ones below it.`,
    severity: "error",
    from: { path: `^src/${layer}/` },
    to: { path: `^src/(${above(i).join("|")})` },
  };
});

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "Files that import each other in a loop, type-only imports included: move the shared part down a layer.",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    ...upward,
    {
      name: "engines-apart",
      comment: "One engine never imports the other; only 04-engines/open.ts knows both.",
      severity: "error",
      from: { path: "^src/04-engines/(sqlite|postgres)/" },
      to: { path: "^src/04-engines/", pathNot: "^src/04-engines/$1/" },
    },
    {
      name: "browser-imports-nothing",
      comment: "errand/browser runs in web pages: it imports nothing, of errand or of Node.",
      severity: "error",
      from: { path: "^src/browser\\.ts$" },
      to: {},
    },
    {
      name: "src-stands-alone",
      comment: "The library imports nothing of the tests, benchmarks or examples.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|bench|examples|scripts)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Type-only imports count: a cycle of types is still a knot in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
