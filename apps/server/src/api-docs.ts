import type { OpenAPIObject } from "trpc-to-openapi";

// A readable, self-contained page for /api/docs: no script or stylesheet from a CDN, so it works
// offline and under a strict content security policy.
export function apiDocsPage(doc: OpenAPIObject): string {
  const sections = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    Object.entries(item as Record<string, OperationLike>).map(([method, op]) => operation(method, path, op)),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)} reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2933}
h1{margin-bottom:.25rem} section{border:1px solid #d9e2ec;border-radius:8px;padding:.75rem 1rem;margin:1rem 0}
h2{font-size:1rem;margin:0;font-family:ui-monospace,monospace} .m{display:inline-block;min-width:4.5rem;font-weight:700}
.get{color:#0967d2}.post{color:#27ab83}.delete{color:#cf1124} pre{background:#f5f7fa;padding:.5rem;overflow:auto;font-size:13px}
.lock{font-size:.85rem;color:#8d2b0b}
</style></head><body>
<h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
<p>${escapeHtml(doc.info.description ?? "")}</p>
<p>Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>. Base URL: <code>/api/v1</code>.</p>
${sections.join("\n")}
</body></html>`;
}

interface OperationLike {
  summary?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string }>;
}

function operation(method: string, path: string, op: OperationLike): string {
  const params = (op.parameters ?? [])
    .map((p) => `<code>${escapeHtml(p.name)}</code> (${escapeHtml(p.in)}${p.required ? ", required" : ""})`)
    .join(", ");
  const body = op.requestBody?.content?.["application/json"]?.schema;
  const responses = Object.entries(op.responses ?? {})
    .map(([status, r]) => `${escapeHtml(status)} ${escapeHtml(r.description ?? "")}`)
    .join(" · ");
  return `<section id="${escapeHtml(`${method}-${path}`)}">
<h2><span class="m ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span>${escapeHtml(path)}</h2>
<p>${escapeHtml(op.summary ?? "")} ${op.security?.length ? '<span class="lock">requires an API key or session</span>' : ""}</p>
${params ? `<p>Parameters: ${params}</p>` : ""}
${body ? `<details><summary>Request body</summary><pre>${escapeHtml(JSON.stringify(body, null, 2))}</pre></details>` : ""}
<p>Responses: ${responses}</p>
</section>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
