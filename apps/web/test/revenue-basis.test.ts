// The daily revenue is booked by purchase day (ADR 012): a late refund or dispute changes the day
// the payment was credited, not the day it happened. The API says so in its description of
// /admin/stats/daily (read from the committed OpenAPI document, the public contract); the
// dashboard's words are checked by the browser test (admin.e2e.test.ts).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const doc = JSON.parse(readFileSync(new URL("../../../docs/openapi/v1.json", import.meta.url), "utf8"));
const daily = doc.paths["/admin/stats/daily"].get;

describe("the daily revenue's basis", () => {
  it("is named in the API's description of /admin/stats/daily and of its revenueMinor", () => {
    expect(daily.description).toContain("by purchase day");
    const day = daily.responses["200"].content["application/json"].schema.properties.days.items;
    expect(day.properties.revenueMinor.description).toContain("by purchase day");
  });
});
