import type { StripeJson } from "../fixtures/stripe-events.ts";

// Stripe lists newest first and pages with starting_after (the last id of the previous page).
export function listPage(objects: StripeJson[], query: Record<string, string>, url: string): StripeJson {
  const gte = query["created[gte]"] === undefined ? -Infinity : Number(query["created[gte]"]);
  const lte = query["created[lte]"] === undefined ? Infinity : Number(query["created[lte]"]);
  const limit = Math.min(Math.max(Number(query.limit ?? 10), 1), 100);
  const matching = objects
    .filter((object) => Number(object.created) >= gte && Number(object.created) <= lte)
    .sort((a, b) => Number(b.created) - Number(a.created));
  const after = query.starting_after;
  const start = after === undefined ? 0 : matching.findIndex((object) => object.id === after) + 1;
  const data = matching.slice(start, start + limit);
  return { object: "list", data, has_more: start + limit < matching.length, url };
}
