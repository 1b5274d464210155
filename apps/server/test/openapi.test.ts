// /api/v1/openapi.json is a structurally valid OpenAPI 3.x document describing every REST
// endpoint (and every procedure with meta.openapi) as the server really answers it; /api/docs
// shows every path; the health checks answer.
import { type Access, appRouter, BALANCE_EVENTS_DOC_PATH, OPENAPI_DOC_PATH } from "@credits/api";
import type { OpenApiMeta } from "trpc-to-openapi";
import { beforeAll, describe, expect, it } from "vitest";
import { startTestServer } from "./harness.ts";

const server = await startTestServer();
const PUBLIC_URL = "http://localhost:3000";

// The REST contract, endpoint by endpoint.
const contract = [
  "POST /auth/signup",
  "POST /auth/login",
  "POST /auth/logout",
  "POST /auth/logout-everywhere",
  "GET /me",
  "GET /me/sessions",
  "GET /me/credits",
  "GET /me/balance",
  "GET /packages",
  "POST /credits/spend",
  "POST /credits/grant",
  "GET /users/{userId}/credits",
  "GET /users/{userId}/balance",
  "POST /credits/holds",
  "POST /credits/holds/{holdId}/capture",
  "POST /credits/holds/{holdId}/release",
  "POST /admin/api-keys",
  "GET /admin/api-keys",
  "POST /admin/api-keys/{id}/revoke",
];

// What the server answers on success where that is not 200.
const successStatus: Record<string, string> = {
  "POST /auth/signup": "201",
  "POST /auth/logout": "204",
  "POST /auth/logout-everywhere": "204",
};

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
const PATH_ITEM_FIELDS = new Set(["summary", "description", "servers", "parameters", "$ref", ...METHODS]);
const PARAMETER_LOCATIONS = new Set(["query", "header", "path", "cookie"]);

// biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by the checker
type Json = any;

const isObject = (value: unknown): value is Record<string, Json> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

// Resolves a local JSON pointer ("#/components/schemas/x"), or returns undefined.
function resolvePointer(doc: Json, ref: string): Json {
  if (!ref.startsWith("#")) return undefined;
  let node = doc;
  for (const raw of ref.slice(1).split("/").slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    if (!Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, Json>)[key];
  }
  return node;
}

const deref = (doc: Json, node: Json): Json =>
  isObject(node) && typeof node.$ref === "string" ? resolvePointer(doc, node.$ref) : node;

// A small structural check of an OpenAPI 3.0/3.1 document: what client generators rely on.
function openApiProblems(doc: Json): string[] {
  const problems: string[] = [];
  const problem = (where: string, what: string) => problems.push(`${where}: ${what}`);
  if (!isObject(doc)) return ["document: not an object"];
  if (typeof doc.openapi !== "string" || !/^3\.[01]\.\d+$/.test(doc.openapi))
    problem("openapi", `version ${doc.openapi}`);
  if (!isObject(doc.info)) problem("info", "missing");
  else {
    if (typeof doc.info.title !== "string" || doc.info.title === "") problem("info.title", "missing");
    if (typeof doc.info.version !== "string" || doc.info.version === "") problem("info.version", "missing");
  }
  if (doc.servers !== undefined) {
    if (!Array.isArray(doc.servers)) problem("servers", "not an array");
    else {
      for (const [i, s] of doc.servers.entries()) if (typeof s?.url !== "string") problem(`servers[${i}]`, "no url");
    }
  }
  if (!isObject(doc.paths)) problem("paths", "missing");
  const schemes = isObject(doc.components?.securitySchemes) ? doc.components.securitySchemes : {};
  for (const [name, scheme] of Object.entries(schemes)) {
    const type = (deref(doc, scheme) as Json)?.type;
    if (!["apiKey", "http", "oauth2", "openIdConnect", "mutualTLS"].includes(type))
      problem(`securitySchemes.${name}`, `type ${type}`);
  }
  const checkSecurity = (where: string, security: Json) => {
    if (security === undefined) return;
    if (!Array.isArray(security)) return problem(where, "security is not an array");
    for (const requirement of security) {
      if (!isObject(requirement)) problem(where, "security requirement is not an object");
      else
        for (const name of Object.keys(requirement))
          if (!(name in schemes)) problem(where, `unknown security scheme ${name}`);
    }
  };
  checkSecurity("document", doc.security);

  const operationIds = new Set<string>();
  for (const [path, rawItem] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!path.startsWith("/")) problem(path, "path does not start with /");
    const item = deref(doc, rawItem);
    if (!isObject(item)) {
      problem(path, "path item is not an object");
      continue;
    }
    for (const key of Object.keys(item))
      if (!PATH_ITEM_FIELDS.has(key) && !key.startsWith("x-")) problem(path, `unexpected field ${key}`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    const operations = METHODS.filter((m) => item[m] !== undefined);
    if (operations.length === 0) problem(path, "no operations");
    for (const method of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      const op = item[method];
      if (!isObject(op)) {
        problem(where, "operation is not an object");
        continue;
      }
      if (op.operationId !== undefined) {
        if (operationIds.has(op.operationId)) problem(where, `duplicate operationId ${op.operationId}`);
        operationIds.add(op.operationId);
      }
      if (!isObject(op.responses) || Object.keys(op.responses).length === 0) problem(where, "no responses");
      for (const [status, rawResponse] of Object.entries(isObject(op.responses) ? op.responses : {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) problem(where, `response key ${status}`);
        const response = deref(doc, rawResponse);
        if (!isObject(response) || typeof response.description !== "string")
          problem(where, `response ${status} has no description`);
        for (const [type, media] of Object.entries(isObject(response?.content) ? response.content : {})) {
          if (!isObject(media)) problem(where, `response ${status} ${type} is not a media type object`);
        }
      }
      if (op.requestBody !== undefined) {
        const body = deref(doc, op.requestBody);
        if (!isObject(body?.content) || Object.keys(body.content).length === 0)
          problem(where, "request body without content");
        if (method === "get") problem(where, "GET with a request body");
      }
      const parameters = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Json) => deref(doc, p));
      const pathParameters = new Set<string>();
      for (const parameter of parameters) {
        if (!isObject(parameter) || typeof parameter.name !== "string" || !PARAMETER_LOCATIONS.has(parameter.in)) {
          problem(where, `bad parameter ${JSON.stringify(parameter)}`);
          continue;
        }
        if (parameter.in === "path") {
          pathParameters.add(parameter.name);
          if (parameter.required !== true) problem(where, `path parameter ${parameter.name} is not required`);
        }
        if (parameter.schema === undefined && parameter.content === undefined)
          problem(where, `parameter ${parameter.name} has no schema`);
      }
      for (const name of templated)
        if (!pathParameters.has(name as string)) problem(where, `path parameter ${name} not declared`);
      for (const name of pathParameters)
        if (!templated.includes(name)) problem(where, `parameter ${name} is not in the path`);
      checkSecurity(where, op.security);
    }
  }

  // Every $ref anywhere resolves inside the document.
  const walk = (node: Json, at: string) => {
    if (Array.isArray(node)) {
      for (const [i, child] of node.entries()) walk(child, `${at}/${i}`);
    } else if (isObject(node)) {
      if (typeof node.$ref === "string" && resolvePointer(doc, node.$ref) === undefined)
        problem(at, `unresolved $ref ${node.$ref}`);
      for (const [key, child] of Object.entries(node))
        walk(child, `${at}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`);
    }
  };
  walk(doc, "#");
  return problems;
}

interface ProcedureDef {
  meta?: { access?: Access; openapi?: NonNullable<OpenApiMeta["openapi"]> };
}
const restProcedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: ProcedureDef }>)
  .map(([path, p]) => ({ path, access: p._def.meta?.access, openapi: p._def.meta?.openapi }))
  .filter((p): p is { path: string; access: Access; openapi: NonNullable<OpenApiMeta["openapi"]> } => !!p.openapi);

let doc: Json;
const operation = (endpoint: string) => {
  const [method = "", path = ""] = endpoint.split(" ");
  return doc.paths?.[path]?.[method.toLowerCase()];
};

beforeAll(async () => {
  const response = await fetch(`${server.url}/api/v1/openapi.json`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  doc = await response.json();
});

describe("the checker", () => {
  it("finds the problems it is meant to find", () => {
    const broken = {
      openapi: "2.0",
      info: { title: "x" },
      paths: {
        "/a/{id}": {
          get: { responses: {}, parameters: [{ name: "other", in: "path", required: false, schema: {} }] },
          post: { responses: { 200: { $ref: "#/components/responses/missing" } }, security: [{ nope: [] }] },
        },
      },
    };
    const problems = openApiProblems(broken);
    for (const expected of [
      "openapi: version 2.0",
      "info.version: missing",
      "GET /a/{id}: no responses",
      "GET /a/{id}: path parameter other is not required",
      "GET /a/{id}: path parameter id not declared",
      "GET /a/{id}: parameter other is not in the path",
      "POST /a/{id}: response 200 has no description",
      "POST /a/{id}: unknown security scheme nope",
      "#/paths/~1a~1{id}/post/responses/200: unresolved $ref #/components/responses/missing",
    ]) {
      expect(problems).toContain(expected);
    }
  });
});

describe("/api/v1/openapi.json", () => {
  it("is a valid OpenAPI 3.x document", () => {
    expect(openApiProblems(doc)).toEqual([]);
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info).toMatchObject({ title: "Credits API", version: "1.0.0" });
    expect(doc.servers).toEqual([{ url: `${PUBLIC_URL}/api/v1` }]);
  });

  it("lists every endpoint of the REST contract", () => {
    for (const endpoint of contract) expect(operation(endpoint), endpoint).toBeDefined();
  });

  it("lists every procedure with meta.openapi, and nothing else", () => {
    expect(restProcedures.length).toBeGreaterThanOrEqual(contract.length);
    for (const { path, openapi } of restProcedures) {
      const op = operation(`${openapi.method} ${openapi.path}`);
      expect(op, path).toBeDefined();
      expect(op.summary, path).toBe(openapi.summary);
    }
    // Path items with their own servers are the server's root routes (health, Stripe's webhook);
    // the live balance and this document are the server's own routes under /api/v1.
    const serverRoutes = new Set([BALANCE_EVENTS_DOC_PATH, OPENAPI_DOC_PATH]);
    const listed = Object.entries(doc.paths as Record<string, Json>)
      .filter(([path, item]) => !item.servers && !serverRoutes.has(path))
      .flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`));
    expect(listed.sort()).toEqual(restProcedures.map(({ openapi }) => `${openapi.method} ${openapi.path}`).sort());
  });

  it("documents the history query parameters and the path parameters", () => {
    const names = (endpoint: string, where: string) =>
      (operation(endpoint).parameters ?? [])
        .filter((p: Json) => p.in === where)
        .map((p: Json) => p.name)
        .sort();
    expect(names("GET /me/credits", "query")).toEqual(["cursor", "from", "kind", "limit", "order", "to"]);
    expect(names("GET /users/{userId}/credits", "path")).toEqual(["userId"]);
    expect(names("POST /credits/holds/{holdId}/capture", "path")).toEqual(["holdId"]);
    const capture = operation("POST /credits/holds/{holdId}/capture").requestBody.content["application/json"].schema;
    expect(Object.keys(deref(doc, capture).properties ?? {})).toEqual(["amount"]);
  });

  it("documents the grant fields: terms on grants and adjustments, grants and allocations on reads", () => {
    const body = (endpoint: string) =>
      deref(doc, operation(endpoint).requestBody.content["application/json"].schema).properties ?? {};
    const ok = (endpoint: string) =>
      deref(doc, operation(endpoint).responses["200"].content["application/json"].schema).properties ?? {};
    for (const endpoint of ["POST /credits/grant", "POST /admin/adjust"]) {
      const terms = body(endpoint);
      expect(deref(doc, terms.category).enum, endpoint).toEqual(["paid", "promotional", "adjustment"]);
      expect(deref(doc, terms.priority), endpoint).toMatchObject({ type: "integer", minimum: 0, maximum: 100 });
      expect(deref(doc, terms.expiresAt), endpoint).toMatchObject({ type: "string", format: "date-time" });
    }
    for (const endpoint of ["GET /me/credits", "GET /users/{userId}/credits"]) {
      const read = ok(endpoint);
      const grant = deref(doc, deref(doc, read.grants).items);
      expect(Object.keys(grant.properties).sort(), endpoint).toEqual(
        ["category", "createdAt", "expiresAt", "id", "priority", "remaining"].sort(),
      );
      expect(read.nextExpiry, endpoint).toBeDefined();
      const row = deref(doc, deref(doc, read.transactions).items);
      const allocation = deref(doc, deref(doc, row.properties.allocations).items);
      expect(Object.keys(allocation.properties), endpoint).toEqual(expect.arrayContaining(["grantId", "amount"]));
    }
    const pack = deref(doc, deref(doc, ok("GET /packages").packages).items);
    expect(pack.properties.creditExpiryDays).toBeDefined();
  });

  it("documents the success status each endpoint really answers", () => {
    for (const endpoint of contract) {
      const statuses = Object.keys(operation(endpoint).responses).filter((s) => s.startsWith("2"));
      expect(statuses, endpoint).toEqual([successStatus[endpoint] ?? "200"]);
    }
  });

  it("asks for credentials only where a procedure needs them", () => {
    for (const { path, access, openapi } of restProcedures) {
      const security = operation(`${openapi.method} ${openapi.path}`).security ?? doc.security ?? [];
      if (access === "public") expect(security, path).toEqual([]);
      else expect(security.length, path).toBeGreaterThan(0);
    }
  });

  it("documents errors in the shape the server sends: { error: { code, message } }, codes enumerated", () => {
    for (const endpoint of contract) {
      for (const [status, raw] of Object.entries(operation(endpoint).responses as Record<string, Json>)) {
        if (!/^[45]/.test(status)) continue;
        const [shared, narrowed] = deref(doc, raw).content["application/json"].schema.allOf;
        expect(shared, `${endpoint} ${status}`).toEqual({ $ref: "#/components/schemas/Error" });
        expect(narrowed.properties.error.properties.code.enum.length, `${endpoint} ${status}`).toBeGreaterThan(0);
      }
    }
    const error = doc.components.schemas.Error;
    expect(error.required).toEqual(["error"]);
    expect(error.properties.error.required).toEqual(["code", "message"]);
  });
});

describe("/api/docs", () => {
  it("is Scalar's reference page, its script served by this server (no CDN), reading the document", async () => {
    const response = await fetch(`${server.url}/api/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>/i);
    const scripts = [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]);
    expect(scripts).toEqual(["/api/docs/scalar.js", "/api/docs/init.js"]);
    // Nothing from anywhere else.
    expect(html).not.toMatch(/https?:\/\//);
    const bundle = await fetch(`${server.url}/api/docs/scalar.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await bundle.text()).length).toBeGreaterThan(1_000_000);
    const init = await (await fetch(`${server.url}/api/docs/init.js`)).text();
    expect(init).toContain('"url":"/api/v1/openapi.json"');
    expect(init).toContain('"withDefaultFonts":false');
  });
});

describe("health checks", () => {
  it("/healthz answers 200", async () => {
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("/readyz answers 200 while the database answers", async () => {
    const response = await fetch(`${server.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ready" });
  });
});
