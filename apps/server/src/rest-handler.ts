import type { AnyTRPCRouter } from "@trpc/server";
import { TRPCError } from "@trpc/server";
import { createOpenApiNodeHttpHandler } from "trpc-to-openapi";

// trpc-to-openapi's fetch adapter (createOpenApiFetchHandler) builds its route table (a regular
// expression per procedure) on every request: a few percent of the CPU of each REST call under
// load (pnpm bench). This is the same adapter with the node handler built once; the request's
// context is handed to it through the request object.
type NodeHandler = ReturnType<typeof createOpenApiNodeHttpHandler>;

export interface RestHandlerOptions<Ctx> {
  endpoint: string;
  router: AnyTRPCRouter;
  responseMeta: (meta: { paths?: string[] | undefined; errors: unknown[] }) => { status?: number };
  onError: (ctx: Ctx, error: TRPCError, path: string | undefined) => void;
}

export function createRestHandler<Ctx extends object>(options: RestHandlerOptions<Ctx>) {
  const contexts = new WeakMap<object, Ctx>();
  const handler: NodeHandler = createOpenApiNodeHttpHandler({
    router: options.router,
    createContext: ({ req }: { req: object }) => contexts.get(req),
    responseMeta: options.responseMeta,
    onError: ({ error, path, req }: { error: TRPCError; path: string | undefined; req: object }) => {
      const ctx = contexts.get(req);
      if (ctx) options.onError(ctx, error, path);
    },
    // biome-ignore lint/suspicious/noExplicitAny: the library's node-http option types, loosely.
  } as any);

  return async (raw: Request, ctx: Ctx): Promise<Response> => {
    const url = new URL(raw.url.replace(options.endpoint, ""));
    const req = await requestProxy(raw, url.toString());
    contexts.set(req, ctx);
    const headers = new Headers();
    return new Promise<Response>((resolve) => {
      let statusCode = 200;
      const res = {
        setHeader: (key: string, value: string | string[]) => {
          if (typeof value === "string") headers.set(key, value);
          else for (const v of value) headers.append(key, v);
        },
        get statusCode() {
          return statusCode;
        },
        set statusCode(code: number) {
          statusCode = code;
        },
        end: (body: string) => resolve(new Response(body, { headers, status: statusCode })),
      };
      // biome-ignore lint/suspicious/noExplicitAny: a fetch Request posing as a node request, as the library does.
      (handler as any)(req, res);
    });
  };
}

// As the library: the body parsed up front (JSON, or url-encoded), a parse failure reported when
// the handler reads it.
async function requestProxy(req: Request, url: string): Promise<Request> {
  let body: { valid: true; data: unknown } | { valid: false; cause: unknown };
  try {
    const type = req.headers.get("content-type");
    if (type?.includes("application/json")) body = { valid: true, data: JSON.parse(await req.text()) };
    else if (type?.includes("application/x-www-form-urlencoded")) {
      const params = new URLSearchParams(await req.text());
      const data: Record<string, string[]> = {};
      for (const key of params.keys()) data[key] = params.getAll(key);
      body = { valid: true, data };
    } else body = { valid: true, data: req.body };
  } catch (cause) {
    body = { valid: false, cause };
  }
  return new Proxy(req, {
    get: (target, prop) => {
      if (prop === "url") return url;
      if (prop === "body") {
        if (!body.valid)
          throw new TRPCError({ code: "PARSE_ERROR", message: "Failed to parse request body", cause: body.cause });
        return body.data;
      }
      return Reflect.get(target, prop);
    },
  });
}
