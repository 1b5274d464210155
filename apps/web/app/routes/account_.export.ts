import { readableOf } from "@credits/api";
import { userRoute } from "../lib/route.server.ts";

// "Download my data": the GDPR export as a JSON file (a resource route: no page), streamed.
export const loader = userRoute(async ({ api, context }) => {
  const exported = await api.caller.gdpr.export();
  const day = new Date().toISOString().slice(0, 10);
  return new Response(readableOf(exported, context.reportError), {
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Disposition": `attachment; filename="credits-my-data-${day}.json"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    },
  });
});
