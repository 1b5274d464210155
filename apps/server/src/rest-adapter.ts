import { type Context as ApiContext, type ErrorData, readableOf, StreamedJson } from "@credits/api";
import type { HttpBindings } from "@hono/node-server";
import type { AnyTRPCProcedure, AnyTRPCRouter } from "@trpc/server";
import { TRPCError } from "@trpc/server";
import { getErrorShape } from "@trpc/server/unstable-core-do-not-import";
import type { Context } from "hono";
import {
  acceptsRequestBody,
  createProcedureCache,
  getErrorFromUnknown,
  getInputOutputParsers,
  instanceofZodTypeLikeVoid,
  instanceofZodTypeObject,
  normalizePath,
  type OpenApiMethod,
  unwrapZodType,
} from "trpc-to-openapi";
import { errorResponse } from "./http-errors.ts";
import { markStreamed } from "./response-observers.ts";

// The REST mirror of the router (ADR 005): trpc-to-openapi's own pieces (route table, error
// shape) composed on Hono's request. The library's HTTP adapters need a Node or
// fetch request of their own; bridging to them cost a fetch Request, a Proxy, two Response objects
// and a JSON round trip of every error body per call, about a fifth of a spend's CPU (pnpm bench).

export interface RestRoute {
  // The procedure, called with the options tRPC's own caller passes.
  call: (opts: {
    path: string;
    getRawInput: () => Promise<unknown>;
    ctx: ApiContext;
    type: "query" | "mutation";
    signal: undefined;
    batchIndex: number;
  }) => Promise<unknown>;
  // The OpenAPI path template under the mount point, e.g. /api/v1/credits/holds/{holdId}/capture:
  // the label of the request's metrics and log line.
  label: string;
  path: string;
  type: "query" | "mutation";
  takesInput: boolean;
  // The input has an idempotencyKey field, which the Idempotency-Key header may carry instead.
  takesIdempotencyKey: boolean;
  // Query-string keys by the type their schema wants: a single `?kind=spend` still becomes
  // ["spend"], `?limit=20` the number 20.
  arrayKeys: Set<string>;
  integerKeys: Set<string>;
  booleanKeys: Set<string>;
}

interface Found {
  route: RestRoute;
  pathInput: Record<string, string>;
}

export interface RestAdapterOptions {
  // Where the router is mounted, e.g. /api/v1.
  prefix: string;
  router: AnyTRPCRouter;
  // The success status of a procedure path (201, 204); 200 when absent.
  successStatus: (path: string) => number;
  // A 201's Location under the prefix, from the procedure path and its output.
  locationOf: (path: string, output: unknown) => string | undefined;
  // A 5xx the procedure did not mean to answer: reported by the caller (log, error hook).
  onInternalError: (error: TRPCError, path: string | undefined, requestId: string) => void;
}

export function createRestAdapter({ prefix, router, successStatus, locationOf, onInternalError }: RestAdapterOptions) {
  const procedures = createProcedureCache(router);
  const routes = new Map<AnyTRPCProcedure, RestRoute>();

  function describe(procedure: AnyTRPCProcedure, path: string, template: string): RestRoute {
    let route = routes.get(procedure);
    if (!route) {
      const schema = unwrapZodType(getInputOutputParsers(procedure).inputParser, true);
      const keysOf = { array: new Set<string>(), number: new Set<string>(), boolean: new Set<string>() };
      const object = instanceofZodTypeObject(schema);
      // Only the query string needs converting: a JSON body already has its types, and the schema
      // is the procedure's own (never made to coerce: `true` or "5" stay invalid amounts).
      if (object) {
        for (const [key, shape] of Object.entries(schema.shape)) {
          const type = typeOf(shape);
          if (type === "array" || type === "number" || type === "boolean") keysOf[type].add(key);
        }
      }
      route = {
        call: procedure as unknown as RestRoute["call"],
        label: `${prefix}${template}`,
        path,
        type: procedure._def.type as RestRoute["type"],
        takesInput: !instanceofZodTypeLikeVoid(schema),
        takesIdempotencyKey: object && Object.hasOwn(schema.shape, IDEMPOTENCY_FIELD),
        arrayKeys: keysOf.array,
        integerKeys: keysOf.number,
        booleanKeys: keysOf.boolean,
      };
      routes.set(procedure, route);
    }
    return route;
  }

  function find(method: string, fullPath: string): Found | null {
    const found = procedures(method as OpenApiMethod, normalizePath(fullPath.slice(prefix.length)));
    if (!found?.procedure) return null;
    const { procedure, path } = found.procedure as { procedure: AnyTRPCProcedure; path: string };
    const template = (procedure._def.meta as { openapi: { path: string } }).openapi.path;
    return { route: describe(procedure, path, template), pathInput: found.pathInput as Record<string, string> };
  }

  async function handle(c: Context, ctx: ApiContext): Promise<Response> {
    const found = find(c.req.method, c.req.path);
    let input: Record<string, unknown> | undefined;
    try {
      if (!found) throw new TRPCError({ code: "NOT_FOUND", message: "Not found" });
      const { route, pathInput } = found;
      c.set("route", route.label);
      if (route.takesInput) {
        const given = acceptsRequestBody(c.req.method as OpenApiMethod) ? await bodyOf(c) : queryOf(c, route);
        input = { ...given, ...pathInput };
        if (route.takesIdempotencyKey) input = withIdempotencyHeader(input, c.req.header(IDEMPOTENCY_HEADER));
      }
      // Called as tRPC's own caller calls it (createCaller), without its per-request proxies.
      const data = await route.call({
        path: route.path,
        getRawInput: async () => input,
        ctx,
        type: route.type,
        signal: undefined,
        batchIndex: 0,
      });
      if (data instanceof StreamedJson) {
        return streamed(c, data, (error) => onInternalError(getErrorFromUnknown(error), route.path, ctx.requestId));
      }
      const status = successStatus(route.path);
      if (status === 204) return c.body(null, 204);
      const location = status === 201 ? locationOf(route.path, data) : undefined;
      return c.body(JSON.stringify(data), status as 200, {
        "Content-Type": "application/json",
        ...(location ? { Location: `${prefix}${location}` } : {}),
      });
    } catch (cause) {
      const error = getErrorFromUnknown(cause);
      const path = found?.route.path;
      if (error.code === "INTERNAL_SERVER_ERROR") onInternalError(error, path, ctx.requestId);
      return restErrorResponse(router, error, path, input, ctx);
    }
  }

  return { handle, find };
}

// The error formatter of the router (packages/api/src/trpc.ts) decides the code, fields and
// message; REST wraps them in { error: { code, message, fields? } }. Also the lean route's (lean-reads.ts).
export function restErrorResponse(
  router: AnyTRPCRouter,
  error: TRPCError,
  path: string | undefined,
  input: unknown,
  ctx: ApiContext,
): Response {
  const shape = getErrorShape({
    config: router._def._config,
    error,
    type: "unknown",
    path,
    input,
    ctx,
  }) as { message: string; data: ErrorData };
  const { appCode, httpStatus, fieldErrors, formErrors, retryAfterSeconds } = shape.data;
  const fields: Record<string, string[]> = { ...(fieldErrors ?? {}) };
  if (formErrors?.length) fields._ = formErrors;
  // A 503 is brief (the database or the provider is back within seconds): say when to retry.
  const retryAfter = retryAfterSeconds ?? (httpStatus === 503 ? 1 : undefined);
  return errorResponse(httpStatus, appCode, shape.message, {
    ...(Object.keys(fields).length ? { fields } : {}),
    ...(httpStatus >= 500 ? { requestId: ctx.requestId } : {}),
    headers: retryAfter ? { "Retry-After": String(retryAfter) } : {},
  });
}

const IDEMPOTENCY_FIELD = "idempotencyKey";
const IDEMPOTENCY_HEADER = "idempotency-key";

// The Idempotency-Key header is the body's idempotencyKey by its HTTP name: either may be given,
// or both when they are equal; the procedure's schema then bounds it as it bounds the field.
// Visible ASCII only: Node trims a header's spaces, reads its bytes as latin1 and joins repeated
// headers with ", ", so any other value would not be the key the client meant (a retry with the
// same key in the body would then run the operation twice).
function withIdempotencyHeader(input: Record<string, unknown>, header: string | undefined) {
  if (header === undefined) return input;
  // (Control characters and an empty value are left to the schema, which names the field.)
  if (/[ \u007f-\uffff]/.test(header)) {
    throw new TRPCError({
      code: "BAD_REQUEST",
      message: "the Idempotency-Key header must be one header of visible ASCII characters (no spaces)",
    });
  }
  const field = input[IDEMPOTENCY_FIELD];
  if (field !== undefined && field !== header) {
    throw new TRPCError({
      code: "BAD_REQUEST",
      message: "the Idempotency-Key header and the idempotencyKey field differ: send one, or the same value in both",
    });
  }
  return { ...input, [IDEMPOTENCY_FIELD]: header };
}

// Status and headers go first; an error later is reported and cuts the connection, without the
// chunked body's end: the client's transfer fails (curl: exit 18, fetch: a rejected read).
function streamed(c: Context, data: StreamedJson, report: (error: unknown) => void): Response {
  const body = readableOf(data, (error) => {
    report(error);
    (c.env as Partial<HttpBindings> | undefined)?.outgoing?.destroy();
  });
  return markStreamed(
    new Response(body, { status: 200, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } }),
  );
}

// A JSON object body; a POST whose input is all in its path (release, revoke, log-out) may come
// without a body or a content type, and reads as {}.
async function bodyOf(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header("content-type");
  const json = type !== undefined && /^application\/json\s*(;|$)/i.test(type);
  const declared = c.req.header("content-length");
  const empty = (declared === undefined || declared === "0") && c.req.header("transfer-encoding") === undefined;
  if (empty && (type === undefined || json)) return {};
  if (!json) {
    throw new TRPCError({
      code: "UNSUPPORTED_MEDIA_TYPE",
      message: type ? `unsupported content type "${type}": send application/json` : "missing content type",
    });
  }
  const text = await c.req.text();
  let body: unknown;
  try {
    body = text === "" ? {} : JSON.parse(text);
  } catch (cause) {
    throw new TRPCError({ code: "PARSE_ERROR", message: "the body is not valid JSON", cause });
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new TRPCError({ code: "BAD_REQUEST", message: "the body must be a JSON object" });
  }
  return body as Record<string, unknown>;
}

// Query parameters: a key given once is a string, given twice an array (an array-typed key is
// always an array). Integers and booleans are read strictly ("20", "true"); anything else stays a
// string, which the schema then refuses.
function queryOf(c: Context, route: RestRoute): Record<string, unknown> {
  const query: Record<string, unknown> = {};
  for (const [key, values] of Object.entries(c.req.queries())) {
    const value = values.length === 1 && !route.arrayKeys.has(key) ? values[0] : values;
    if (route.integerKeys.has(key) && typeof value === "string" && /^-?\d{1,15}$/.test(value)) {
      query[key] = Number(value);
    } else if (route.booleanKeys.has(key) && (value === "true" || value === "false")) {
      query[key] = value === "true";
    } else query[key] = value;
  }
  return query;
}

// A schema's type under optional, nullable and default wrappers.
function typeOf(schema: { _zod: { def: { type: string; innerType?: unknown } } }): string {
  const { type, innerType } = schema._zod.def;
  const wrapper = type === "optional" || type === "nullable" || type === "default";
  return wrapper && innerType ? typeOf(innerType as typeof schema) : type;
}
