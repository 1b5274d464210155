import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Services } from "@credits/api";
import { type AppLoadContext, createRequestHandler, type ServerBuild } from "@remix-run/node";
import type { ViteDevServer } from "vite";

// The Remix app as the HTTP server mounts it. The server owns the composition root: it passes
// its own Services (and the request's identity) as Remix's load context, so loaders and actions
// call the same router, on the same database, as /trpc and /api/v1.

export interface WebContext {
  services: Services;
  requestId: string;
  clientAddress: string;
  // `session`, or `__Host-session` in production: the server's cookie policy, not the app's.
  sessionCookieName: string;
  // The origin people reach us on (PUBLIC_URL): a state-changing form post must come from it.
  publicOrigin: string;
  // An unexpected error in a loader, an action or the render, reported as the API's are (the
  // redacted logger, errors_total): Remix's default prints it raw, query parameters and all.
  reportError: (error: unknown) => void;
}

declare module "@remix-run/server-runtime" {
  interface AppLoadContext extends WebContext {
    // This response's Content-Security-Policy nonce: entry.server.tsx puts it on every script.
    cspNonce: string;
  }
}

export type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

export interface WebApp {
  mode: "development" | "production";
  // production: the built client (hashed files under /assets), for the server to serve statically.
  assetsDir: string | null;
  // development: Vite's connect middlewares (modules, HMR client, CSS); they call next() for
  // every request that is not theirs, which then goes to handle().
  devMiddleware: NodeMiddleware | null;
  handle(request: Request, context: WebContext): Promise<Response>;
  close(): Promise<void>;
}

const webRoot = fileURLToPath(new URL("..", import.meta.url));
export const buildDir = join(webRoot, "build");
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

// hmrPort: Vite's HMR websocket port in development (its default, 24678, unless given): a test
// takes a free one, so that it never collides with a `pnpm dev` running on the same machine.
export async function createWebApp({
  mode,
  hmrPort,
}: {
  mode: "development" | "production";
  hmrPort?: number;
}): Promise<WebApp> {
  if (mode === "production") {
    const serverBuild = join(buildDir, "server", "index.js");
    if (!existsSync(serverBuild)) {
      throw new Error(`the web app is not built (${serverBuild} is missing): run  pnpm build  first`);
    }
    const build = (await import(pathToFileURL(serverBuild).href)) as ServerBuild;
    const handler = createRequestHandler(build, "production");
    return {
      mode,
      assetsDir: join(buildDir, "client"),
      devMiddleware: null,
      handle: (request, context) => guarded(request, context, handler, "production"),
      close: async () => {},
    };
  }

  // Vite in middleware mode: no server of its own; the HMR websocket listens apart (hmrPort).
  const { createServer } = await import("vite");
  const sigterm = new Set(process.listeners("SIGTERM"));
  const stdinEnd = new Set(process.stdin.listeners("end"));
  const vite: ViteDevServer = await createServer({
    root: webRoot,
    configFile: join(webRoot, "vite.config.ts"),
    // The HMR websocket is Vite's own listener (port 24678 by default); unset, it takes every
    // interface. Loopback, like the server's default HOST (with HOST=0.0.0.0, another device gets
    // the pages without hot reload).
    server: { middlewareMode: true, hmr: { host: "127.0.0.1", ...(hmrPort ? { port: hmrPort } : {}) } },
    appType: "custom",
  });
  // Remix's child compiler is a full Vite server, which exits the process on SIGTERM (or when
  // stdin ends) as soon as it has closed itself. The server owns shutdown (requests drain, the
  // database closes): take those handlers back out.
  for (const listener of process.listeners("SIGTERM")) {
    if (!sigterm.has(listener)) process.off("SIGTERM", listener);
  }
  for (const listener of process.stdin.listeners("end")) {
    if (!stdinEnd.has(listener)) process.stdin.off("end", listener as () => void);
  }
  const handler = createRequestHandler(async () => {
    try {
      return (await vite.ssrLoadModule("virtual:remix/server-build")) as ServerBuild;
    } catch (error) {
      if (error instanceof Error) vite.ssrFixStacktrace(error);
      throw error;
    }
  }, "development");
  return {
    mode,
    assetsDir: null,
    // Looked up per request: Vite replaces its middlewares when it restarts (vite.config.ts edits).
    devMiddleware: (req, res, next) => vite.middlewares(req, res, next),
    handle: (request, context) => guarded(request, context, handler, "development"),
    close: async () => {
      try {
        await optimizerSettled(vite);
      } finally {
        await vite.close();
      }
    },
  };
}

// Vite 6.4's dependency optimizer answers the requests for pre-bundled dependencies (react,
// @remix-run/react…) only once a run of it is committed, the first run not before its "crawl end"
// (the static imports of the first pages all transformed). close() cancels the crawl and the run
// without answering those requests, then waits for them forever (vitejs/vite#22934): a page
// requested in the first moments after start hung the shutdown (and the dev-server test's close,
// past 180 s in CI). So the crawl ends first, then every run that a dependency still waits for.
async function optimizerSettled(vite: ViteDevServer): Promise<void> {
  const client = vite.environments.client;
  await client.waitForRequestsIdle();
  // One promise per run, shared by its dependencies; each awaited once (a settled one left behind
  // must not make this spin).
  const awaited = new Set<Promise<void>>();
  for (;;) {
    const discovered = Object.values(client.depsOptimizer?.metadata.discovered ?? {});
    const waiting = [...new Set(discovered.flatMap((dep) => dep.processing ?? []))].filter((p) => !awaited.has(p));
    if (waiting.length === 0) return;
    for (const promise of waiting) awaited.add(promise);
    await Promise.allSettled(waiting);
  }
}

async function guarded(
  request: Request,
  context: WebContext,
  handler: (request: Request, context: AppLoadContext) => Promise<Response>,
  mode: WebApp["mode"],
): Promise<Response> {
  // Remix's own check compares Origin with Host and answers a mismatch with a 500; this one
  // answers 403 first, against our public origin, and also covers the log-in form (login CSRF).
  if (crossSite(request, context.publicOrigin)) {
    return new Response("Cross-site form submission refused.", {
      status: 403,
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  }
  const cspNonce = randomBytes(18).toString("base64");
  // AppLoadContext is WebContext (augmented above) plus Remix's open index signature.
  const response = await handler(originChecked(request), { ...context, cspNonce } as AppLoadContext);
  // Pages with buttons that spend money must not be framed (clickjacking).
  response.headers.set("X-Frame-Options", "DENY");
  response.headers.set("Content-Security-Policy", contentSecurityPolicy(mode, cspNonce));
  response.headers.set("X-Content-Type-Options", "nosniff");
  response.headers.set("Referrer-Policy", "same-origin");
  // Every page shows the signed-in user (the root loader): no cache may keep one for another.
  response.headers.set("Cache-Control", "no-store");
  return response;
}

// The built app: scripts only from us or carrying this response's nonce (Remix's inline scripts
// get it), no plugins, no <base>. Styles may be inline (React style attributes). Under Vite's dev
// server (its own inline scripts, the HMR socket) only the framing rule applies.
function contentSecurityPolicy(mode: WebApp["mode"], nonce: string): string {
  if (mode === "development") return "frame-ancestors 'none'";
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

// The origin of a form post is checked above, against PUBLIC_URL. Remix checks it again against
// Host or X-Forwarded-Host and answers a mismatch with a 500 (a proxy that rewrites Host, a forged
// X-Forwarded-Host): it gets the request without Origin, so that one check decides, with a 403.
function originChecked(request: Request): Request {
  if (SAFE_METHODS.has(request.method) || !request.headers.has("origin")) return request;
  const headers = new Headers(request.headers);
  headers.delete("origin");
  return new Request(request, { headers });
}

// Browsers send Origin on every POST from a page (and Sec-Fetch-Site); a request with neither
// comes from a non-browser client, which carries no ambient authority of a victim's browser.
export function crossSite(request: Request, publicOrigin: string): boolean {
  if (SAFE_METHODS.has(request.method)) return false;
  const origin = request.headers.get("origin");
  if (origin) return origin !== publicOrigin && origin !== new URL(request.url).origin;
  const site = request.headers.get("sec-fetch-site");
  return !(site === null || site === "same-origin" || site === "none");
}
