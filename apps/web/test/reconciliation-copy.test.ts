// Every finding kind the API can report has its words on the admin's run page: the kinds are read
// from the committed OpenAPI document (the public contract), so a kind added to core without its
// text fails here.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { findingCopy } from "../app/lib/reconciliation.ts";

const doc = JSON.parse(readFileSync(new URL("../../../docs/openapi/v1.json", import.meta.url), "utf8"));
const kinds: string[] =
  doc.paths["/admin/reconciliation/runs/{id}"].get.responses["200"].content["application/json"].schema.properties
    .findings.items.properties.kind.enum;

describe("reconciliation finding copy", () => {
  it("has a label and a text for every kind the API reports", () => {
    expect(kinds).toContain("paid_after_cancel");
    const missing = kinds.filter((kind) => findingCopy(kind).label === kind || !findingCopy(kind).text);
    expect(missing).toEqual([]);
  });

  it("shows a kind it does not know as it is", () => {
    expect(findingCopy("kind_from_the_future")).toEqual({ label: "kind_from_the_future", text: "" });
  });
});
