/**
 * The layering, checked (npm run lint). Imports point down:
 *
 *   index.ts ─▶ components/ ─▶ contract/, edge/, layer/
 *   cli/, local/, ops/, bench/ ─▶ runtime/ ─▶ contract/
 *   test/ ─▶ everything; nothing ─▶ test/; fixtures/ (generated and real-world images) ◀─ test/, bench/
 *
 * runtime/ is what ships in the function archives; contract/ is what deploy and run agree on
 * (environment, table, timing, names, the tenant schema); edge/ is the CloudFront Function.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle means two modules are one: merge them, or move what both need below them.",
      from: {},
      to: { circular: true },
    },
    {
      name: "runtime-ships-alone",
      severity: "error",
      comment:
        "runtime/ is bundled into the Lambda archives: it may import only itself, contract/ and its npm dependencies; never Pulumi, the local platform, operator code, the CLIs or tests.",
      from: { path: "^runtime/" },
      to: { path: "^(components|local|ops|cli|test|fixtures|bench|layer|edge)/|^index\\.ts$|node_modules/@pulumi/" },
    },
    {
      name: "runtime-uses-shipped-packages",
      severity: "error",
      comment: "What runtime/ imports ships: it must be a dependency, not a devDependency.",
      from: { path: "^(runtime|contract)/" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
    {
      name: "runtime-loads-no-schema-library",
      severity: "error",
      comment:
        "The functions read their tenant with contract/tenant-runtime.ts: zod and the schema (contract/tenant-config.ts) cost every cold start ~85 ms for a value the deployment validated. Types only.",
      from: { path: "^(runtime/|contract/(tenant-runtime|naming|environment|timing|table|quotas)\\.ts$)" },
      to: { path: "^contract/tenant-config\\.ts$", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "contract-is-pure",
      severity: "error",
      comment: "contract/ is read by the Pulumi program and the functions alike: no clients, no Pulumi, nothing but itself, node's own modules and zod.",
      from: { path: "^contract/" },
      to: { pathNot: "^contract/|node_modules/zod/", dependencyTypesNot: ["core"] },
    },
    {
      name: "components-read-the-contract",
      severity: "error",
      comment:
        "Evaluating the Pulumi program must not load the functions' code (sharp, exiftool, SDK clients): components read contract/, edge/ (the CloudFront Function's text) and layer/ (zips), never runtime/.",
      from: { path: "^(components/|index\\.ts$)" },
      to: { path: "^(runtime|local|ops|cli|bench)/" },
    },
    {
      name: "edge-stands-alone",
      severity: "error",
      comment: "edge/ is the CloudFront Function and its signing helpers: one file CloudFront runs, plus what reads it; it depends on the contract only.",
      from: { path: "^edge/" },
      to: { path: "^(runtime|components|local|ops|cli|bench|layer)/" },
    },
    {
      name: "ops-serves-console-and-cli",
      severity: "error",
      comment: "ops/ is operator logic shared by the console and the CLIs: it sits below both.",
      from: { path: "^ops/" },
      to: { path: "^(components|local|cli|bench)/|^index\\.ts$" },
    },
    {
      name: "cli-does-not-start-emulators",
      severity: "error",
      comment:
        "Operator commands run against a deployed stack too: they must not load the emulators (dynalite, fauxqs) or the local platform that starts them.",
      from: { path: "^cli/" },
      to: { path: "^local/(platform|emulators|poller|start)\\.ts$" },
    },
    {
      name: "nothing-imports-tests",
      severity: "error",
      comment: "Test code never ships or runs outside the tests.",
      from: { pathNot: "^test/" },
      to: { path: "^test/" },
    },
    {
      name: "fixtures-for-tests-and-benches",
      severity: "error",
      comment: "fixtures/ (generated images, the real-world corpus) serves the tests and the benchmarks only.",
      from: { pathNot: "^(test|bench|fixtures)/" },
      to: { path: "^fixtures/" },
    },
    {
      name: "no-unresolvable",
      severity: "error",
      comment: "An import that resolves to nothing fails at run time.",
      from: {},
      to: { couldNotResolve: true, pathNot: "^cloudfront$" }, // the CloudFront Functions runtime's own module (edge/edge-function.js)
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|\\.build|\\.local|layer/dist|bench/results|test/browser/output)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".mts", ".js", ".mjs", ".cjs", ".json", ".d.ts"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
