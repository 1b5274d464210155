// No silent breaking change to /api/v1: the committed document (docs/openapi/v1.json) against the
// one the code produces; and the comparer itself, on small documents, for each kind of change.
import { openApiDocument } from "@credits/api";
import { describe, expect, it } from "vitest";
import {
  checkCommitted,
  compare,
  DOCUMENT_BASE_URL,
  readCommitted,
  readCommittedTypes,
  typesOf,
} from "../src/openapi-compat.ts";

// The code's document against the committed one, compared once for both checks below.
const committed = readCommitted();
const current = JSON.parse(JSON.stringify(openApiDocument(DOCUMENT_BASE_URL)));
const compared = compare(committed, current);

describe("the committed OpenAPI document", () => {
  it("has no breaking change against the code (pnpm openapi:update after a compatible one)", () => {
    const message = `breaking changes to /api/v1 without a new major version:\n${compared.breaking.join("\n")}`;
    expect(compared.newMajor || compared.breaking.length === 0, message).toBe(true);
  });

  it("is exactly the code's, additions included, with current types (pnpm openapi:check)", async () => {
    const types = { committed: readCommittedTypes(), current: await typesOf(committed) };
    const result = checkCommitted(committed, current, types, compared);
    expect(result.lines.join("\n")).toBe("the committed document and its types are up to date");
    expect(result.ok).toBe(true);
  });
});

describe("the strict check", () => {
  const same = { committed: "types", current: "types" };
  it("fails on an addition, naming openapi:update, and on a breaking change, naming it", () => {
    const added = base() as Doc & { paths: Record<string, unknown> };
    added.paths["/new"] = { get: { responses: { "200": { description: "ok" } } } };
    const addition = checkCommitted(base(), added, same);
    expect(addition.ok).toBe(false);
    expect(addition.lines.join("\n")).toMatch(/\(1 compatible change\(s\)\): run pnpm openapi:update/);
    const described = base();
    described.paths["/me"].get.responses["200"].description = "the user";
    expect(checkCommitted(base(), described, same).ok).toBe(false);
    const removed = base() as Partial<Doc["paths"]> & Doc;
    delete (removed.paths as Partial<Doc["paths"]>)["/me"];
    const breaking = checkCommitted(base(), removed, same);
    expect(breaking.ok).toBe(false);
    expect(breaking.lines[0]).toMatch(/^breaking: remove paths\/\/me/);
  });

  it("fails on stale types, and passes on an identical document with current types", () => {
    expect(checkCommitted(base(), base(), { committed: "old", current: "new" }).lines.at(-1)).toMatch(/v1\.d\.ts/);
    expect(checkCommitted(base(), base(), same)).toEqual({
      ok: true,
      lines: ["the committed document and its types are up to date"],
    });
  });
});

const base = () => ({
  openapi: "3.1.0",
  info: { title: "t", version: "1.0.0" },
  paths: {
    "/spend": {
      post: {
        requestBody: {
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["amount"],
                properties: { amount: { type: "integer", maximum: 1000 }, reason: { type: "string" } },
              },
            },
          },
        },
        responses: {
          "200": {
            description: "ok",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  required: ["transactionId", "balance"],
                  properties: { transactionId: { type: "string" }, balance: { type: "integer" } },
                },
              },
            },
          },
        },
      },
    },
    "/me": { get: { responses: { "200": { description: "ok" } } } },
  },
});
type Doc = ReturnType<typeof base>;
const changed = (change: (doc: Doc) => void) => {
  const doc = base();
  change(doc);
  return compare(base(), doc);
};
const input = (doc: Doc) => doc.paths["/spend"].post.requestBody.content["application/json"].schema;
const output = (doc: Doc) => doc.paths["/spend"].post.responses["200"].content["application/json"].schema;

describe("the comparer", () => {
  it.each([
    ["a removed operation", (doc: Doc) => delete (doc.paths as Record<string, unknown>)["/me"]],
    [
      "a removed response field",
      (doc: Doc) => {
        delete (output(doc).properties as Record<string, unknown>).balance;
        output(doc).required = ["transactionId"];
      },
    ],
    [
      "a new required input",
      (doc: Doc) => {
        Object.assign(input(doc).properties, { userId: { type: "string" } });
        input(doc).required = ["amount", "userId"];
      },
    ],
    ["a narrowed input", (doc: Doc) => Object.assign(input(doc).properties.amount, { maximum: 10 })],
    ["a changed input type", (doc: Doc) => Object.assign(input(doc).properties.reason, { type: "integer" })],
    ["a changed response type", (doc: Doc) => Object.assign(output(doc).properties.balance, { type: "string" })],
  ])("refuses %s", (_name, change) => {
    const result = changed(change);
    expect(result.breaking.length).toBeGreaterThan(0);
    expect(result.newMajor).toBe(false);
  });

  it.each([
    ["a new operation", (doc: Doc) => Object.assign(doc.paths, { "/new": { get: { responses: {} } } })],
    ["a new optional input", (doc: Doc) => Object.assign(input(doc).properties, { note: { type: "string" } })],
    ["a new response field", (doc: Doc) => Object.assign(output(doc).properties, { at: { type: "string" } })],
    ["a widened input", (doc: Doc) => Object.assign(input(doc).properties.amount, { maximum: 5000 })],
  ])("lets %s pass", (_name, change) => {
    const result = changed(change);
    expect(result.breaking).toEqual([]);
    expect(result.additions).toBeGreaterThan(0);
  });

  it("refuses a value added to a response enum, unless the enum is declared open (x-extensible-enum)", () => {
    const withKind = (values: string[], open: boolean) => {
      const doc = base();
      const kind = { type: "string", enum: values, ...(open ? { "x-extensible-enum": true } : {}) };
      Object.assign(output(doc).properties, { kind });
      return doc;
    };
    const closed = compare(withKind(["spend"], false), withKind(["spend", "refund"], false));
    expect(closed.breaking).toEqual([
      "add paths//spend/post/responses/200/content/application/json/schema/properties/kind/enum/1",
    ]);
    expect(compare(withKind(["spend"], true), withKind(["spend", "refund"], true)).breaking).toEqual([]);
    // Declared open while growing: the marker tells clients from now on.
    expect(compare(withKind(["spend"], false), withKind(["spend", "refund"], true)).breaking).toEqual([]);
  });

  it("lets a breaking change pass with a new major version", () => {
    const result = changed((doc) => {
      delete (doc.paths as Record<string, unknown>)["/me"];
      doc.info.version = "2.0.0";
    });
    expect(result.breaking.length).toBeGreaterThan(0);
    expect(result.newMajor).toBe(true);
  });
});
