import { readableOf } from "@credits/api";
import { publicErrorOf } from "../lib/errors.server.ts";
import { userRoute } from "../lib/route.server.ts";

// "Download my data": the GDPR export as a JSON file (a resource route: no page), streamed. Past
// GDPR_EXPORT_RATE_LIMIT_PER_HOUR a short plain-text 429 says when to come back (a resource route
// has no error page to render).
export const loader = userRoute(async ({ api, context }) => {
  let exported: Awaited<ReturnType<typeof api.caller.gdpr.export>>;
  try {
    exported = await api.caller.gdpr.export();
  } catch (error) {
    const failure = publicErrorOf(error);
    if (failure?.appCode !== "RATE_LIMITED") throw error;
    return tooManyDownloads(failure.retryAfterSeconds ?? 60);
  }
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

function tooManyDownloads(retryAfterSeconds: number): Response {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  return new Response(`Your data was downloaded too often in the last hour. Try again in ${minutes} min.\n`, {
    status: 429,
    headers: {
      "Content-Type": "text/plain; charset=utf-8",
      "Retry-After": String(retryAfterSeconds),
      "Cache-Control": "no-store",
    },
  });
}
