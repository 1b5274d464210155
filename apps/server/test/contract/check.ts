// The contract checker: is an HTTP answer one the OpenAPI document allows for its operation?
// Its status must be documented for that operation, its required headers present, and its body
// valid against the documented schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses); a status
// or shape the document does not list is a problem. Used by the contract test (every answer the
// test suites produced) and by the OpenAPI fuzz walk.
import { Ajv2020 } from "ajv/dist/2020.js";
import ajvFormats from "ajv-formats";

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document walked as JSON
type Json = any;

export interface Answer {
  method: string;
  // The request's path from the server's root, e.g. /api/v1/credits/holds/4f…/capture.
  path: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  // A streamed body recorded only in part (response-observers.ts): its status and headers are checked.
  cut?: true;
}

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  pointer: string;
  operation: Json;
}

const METHODS = ["get", "put", "post", "delete", "patch"];
const pointerOf = (...parts: string[]) => parts.map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

export function contractChecker(doc: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  // A CommonJS module: its default export is the module, whose `default` is the plugin.
  ajvFormats.default(ajv);
  ajv.addSchema(doc, "openapi.json");
  const apiPrefix = new URL(doc.servers[0].url).pathname.replace(/\/$/, "");
  const routes: Route[] = [];
  for (const [template, item] of Object.entries<Json>(doc.paths)) {
    // A path item with its own servers sits at the server's root (the health checks, Stripe's webhook).
    const prefix = item.servers ? "" : apiPrefix;
    const pattern = new RegExp(`^${prefix}${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    for (const method of METHODS) {
      if (!item[method]) continue;
      const pointer = `#/${pointerOf("paths", template, method)}`;
      routes.push({ method: method.toUpperCase(), template, pattern, pointer, operation: item[method] });
    }
  }
  const validators = new Map<string, ReturnType<typeof ajv.compile>>();
  const validatorOf = (ref: string) => {
    let validate = validators.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: `openapi.json${ref}` });
      validators.set(ref, validate);
    }
    return validate;
  };

  // The operation an answer belongs to; null for a path the document does not describe.
  const routeOf = (method: string, path: string) =>
    routes.find((r) => r.method === method && r.pattern.test(path)) ?? null;

  // What is wrong with an answer, or null when the document allows it.
  function problemOf(answer: Answer): string | null {
    const route = routeOf(answer.method, answer.path);
    if (!route) return null;
    const where = `${route.method} ${route.template} answered ${answer.status}`;
    const responses = route.operation.responses;
    const key = [String(answer.status), `${String(answer.status)[0]}XX`].find((k) => responses[k]);
    if (!key) return `${where}: status not documented (documented: ${Object.keys(responses).join(", ")})`;
    const response = responses[key];
    const headers = Object.fromEntries(Object.entries(answer.headers).map(([k, v]) => [k.toLowerCase(), v]));
    for (const [name, header] of Object.entries<Json>(response.headers ?? {})) {
      if (header.required && headers[name.toLowerCase()] === undefined) return `${where}: no ${name} header`;
    }
    const media = response.content?.["application/json"];
    if (answer.cut) return null;
    if (!media) return answer.body === "" ? null : `${where}: a body where none is documented`;
    let body: unknown;
    try {
      body = JSON.parse(answer.body);
    } catch {
      return `${where}: body is not JSON: ${answer.body.slice(0, 120)}`;
    }
    const validate = validatorOf(
      `${route.pointer}/${pointerOf("responses", key, "content", "application/json")}/schema`,
    );
    if (validate(body)) return null;
    return `${where}: body off its schema: ${ajv.errorsText(validate.errors)}; body ${answer.body.slice(0, 200)}`;
  }

  // Every example in the document (request bodies and responses) against its own schema; and an
  // operation with a JSON body or JSON success without one is a problem too.
  function exampleProblems(): string[] {
    const problems: string[] = [];
    for (const route of routes) {
      const where = `${route.method} ${route.template}`;
      const media: [string, Json][] = [];
      const body = route.operation.requestBody?.content?.["application/json"];
      if (body) media.push([`${route.pointer}/${pointerOf("requestBody", "content", "application/json")}`, body]);
      for (const [status, response] of Object.entries<Json>(route.operation.responses)) {
        const json = response.content?.["application/json"];
        if (json)
          media.push([`${route.pointer}/${pointerOf("responses", status, "content", "application/json")}`, json]);
      }
      for (const [pointer, content] of media) {
        if (content.example === undefined) {
          problems.push(`${where}: no example at ${pointer}`);
          continue;
        }
        const validate = validatorOf(`${pointer}/schema`);
        if (!validate(content.example))
          problems.push(`${where}: example off its schema at ${pointer}: ${ajv.errorsText(validate.errors)}`);
      }
    }
    return problems;
  }

  return { problemOf, routeOf, exampleProblems };
}
