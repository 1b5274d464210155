// The layers of README "Architecture", checked by `pnpm lint`. Data flows one way:
// apps -> api -> core <- db, stripe. One rule per layer; together they leave the wiring of db,
// stripe and env to the composition root (apps/server), the scripts and the tests.
// A workspace import resolves to its real path (packages/<name>/…); one the importer did not
// declare stays unresolved under its name (@credits/<name>), so each rule matches both.

// Our packages or apps by name: their folders, and their unresolved names.
const ours = (names) => `^((packages|apps)/(${names})/|@credits/(${names})(/|$))`;
// The database drivers and the payment SDK: for db and stripe to load (and the root, the scripts).
const DRIVERS_AND_SDK = "(^|node_modules/)(postgres|drizzle-orm|@electric-sql/pglite|stripe)(/|$)";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "core-is-pure",
      comment:
        "packages/core holds the business rules: no other package of ours, no framework, driver or SDK; only its own small libraries and node builtins.",
      severity: "error",
      from: { path: "^packages/core/src/" },
      to: {
        pathNot: [
          "^packages/core/",
          "node_modules/(@node-rs/argon2|@oslojs/crypto|@oslojs/encoding|ipaddr\\.js|p-limit|zod)/",
        ],
        dependencyTypesNot: ["core"],
      },
    },
    {
      name: "adapters-import-core",
      comment:
        "db and stripe implement core's ports: they import core and observability, never each other, api, the apps or the scripts.",
      severity: "error",
      from: { path: "^packages/(db|stripe)/" },
      to: { path: [ours("api|client|db|stripe|server|web|scripts"), "^scripts/"], pathNot: "^packages/$1/" },
    },
    {
      name: "adapters-get-settings-as-arguments",
      comment: "db and stripe are handed their settings by the root; only their tests read env.",
      severity: "error",
      from: { path: "^packages/(db|stripe)/src/" },
      to: { path: ours("env") },
    },
    {
      name: "api-imports-core",
      comment:
        "The router (packages/api) calls core's services through the Services type: core and observability only, never db, stripe, env or a driver; the composition root hands it its services.",
      severity: "error",
      from: { path: "^packages/api/" },
      to: {
        path: [ours("client|db|stripe|env|server|web|scripts"), "^scripts/", DRIVERS_AND_SDK],
      },
    },
    {
      name: "client-imports-api-types",
      comment: "The typed client knows the router by its types only: no code of ours is bundled with it.",
      severity: "error",
      from: { path: "^packages/client/" },
      to: { path: [ours("[^/]+"), "^scripts/"], pathNot: "^packages/client/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "leaves-stay-leaves",
      comment: "env reads the environment and imports no package of ours; observability imports only env.",
      severity: "error",
      from: { path: "^packages/(env|observability)/" },
      to: { path: [ours("[^/]+"), "^scripts/"], pathNot: ["^packages/$1/", "^packages/env/"] },
    },
    {
      name: "web-imports-api",
      comment:
        "The web app (apps/web app/ and server/) calls the router in-process: api and its own files, never core, db, stripe, env or a driver. The browser tests (apps/e2e) start the whole server.",
      severity: "error",
      from: { path: "^apps/web/(app|server)/" },
      to: { path: [ours("core|db|stripe|env|observability|client|server|scripts"), "^scripts/", DRIVERS_AND_SDK] },
    },
    {
      name: "no-relative-import-across-packages",
      comment: "Another package is imported by its name, through its package.json exports, never by a relative path.",
      severity: "error",
      from: { path: "^(packages|apps)/([^/]+)/" },
      to: { dependencyTypes: ["local"], pathNot: "^$1/$2/" },
    },
    {
      name: "no-relative-import-out-of-scripts",
      comment:
        "The scripts import the packages and the server by name, never by a relative path (the committed OpenAPI types, docs/openapi/v1.d.ts, are the document's, read as a stranger's client would).",
      severity: "error",
      from: { path: "^scripts/" },
      to: { dependencyTypes: ["local"], pathNot: "^(scripts/|docs/openapi/v1\\.d\\.ts$)" },
    },
    {
      name: "no-test-code-in-production",
      comment: "Production code never loads another package's test folder (test kits are for tests and scripts).",
      severity: "error",
      from: { path: "^(packages|apps)/[^/]+/(src|app|server)/" },
      to: { path: "^(packages|apps)/[^/]+/test/" },
    },
    {
      name: "no-unresolvable",
      comment: "Every import resolves (a misspelt or undeclared package fails here, not at run time).",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(apps/web/build|apps/web/public|\\.data|test-results)/" },
    // Type-only imports are dependencies too: api must not even name db's types.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
