import type { LoaderFunctionArgs } from "@remix-run/node";
import { requireUser } from "../lib/api.server.ts";

// "Download my data": the GDPR export as a JSON file (a resource route: no page).
export async function loader({ request, context }: LoaderFunctionArgs) {
  const api = await requireUser(request, context);
  const exported = await api.caller.gdpr.export();
  const day = exported.exportedAt.slice(0, 10);
  return new Response(`${JSON.stringify(exported, null, 2)}\n`, {
    headers: api.headers({
      "Content-Type": "application/json; charset=utf-8",
      "Content-Disposition": `attachment; filename="credits-my-data-${day}.json"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    }),
  });
}
