import { userRoute } from "../lib/route.server.ts";

// "Download my data": the GDPR export as a JSON file (a resource route: no page).
export const loader = userRoute(async ({ api }) => {
  const exported = await api.caller.gdpr.export();
  const day = exported.exportedAt.slice(0, 10);
  return new Response(`${JSON.stringify(exported, null, 2)}\n`, {
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Disposition": `attachment; filename="credits-my-data-${day}.json"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    },
  });
});
