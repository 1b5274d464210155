import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Hono } from "hono";

// /api/docs: the API reference, rendered by Scalar API Reference (its standalone browser bundle,
// served from the server's own dependencies: no CDN, so the page works offline). It reads
// /api/v1/openapi.json and gives schemas, code samples (curl, JavaScript, Python, …) and try-it
// against this server. Scalar's default web fonts are off, yet the bundle still asks
// fonts.scalar.com for two (seen by apps/e2e/test/api-docs.e2e.test.ts); offline they fail and the
// page uses system fonts.
const SCRIPT_PATH = "/api/docs/scalar.js";
const CONFIG_PATH = "/api/docs/init.js";
// The package exports only its module entry (dist/index.js); the bundle sits beside it.
const bundleFile = () =>
  join(dirname(createRequire(import.meta.url).resolve("@scalar/api-reference")), "browser", "standalone.js");

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Credits API reference</title></head>
<body><noscript>The reference needs JavaScript; the document itself is <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</noscript>
<div id="api-reference"></div>
<script src="${SCRIPT_PATH}"></script>
<script src="${CONFIG_PATH}"></script>
</body></html>`;

// A script file, not inline, so the page works under a content security policy without 'unsafe-inline'.
const init = `Scalar.createApiReference("#api-reference", ${JSON.stringify({
  url: "/api/v1/openapi.json",
  withDefaultFonts: false,
  telemetry: false,
  hideClientButton: true,
  defaultHttpClient: { targetKey: "shell", clientKey: "curl" },
})});`;

export function mountApiDocs(app: Hono<{ Variables: { requestId: string } }>) {
  let bundle: Promise<string> | undefined;
  app.get("/api/docs", (c) => c.html(page));
  app.get(CONFIG_PATH, (c) => c.body(init, 200, { "Content-Type": "text/javascript; charset=utf-8" }));
  app.get(SCRIPT_PATH, async (c) => {
    bundle ??= readFile(bundleFile(), "utf8");
    return c.body(await bundle, 200, {
      "Content-Type": "text/javascript; charset=utf-8",
      "Cache-Control": "public, max-age=3600",
    });
  });
}
