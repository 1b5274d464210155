// No silent breaking change to /api/v1: the committed document (docs/openapi/v1.json) against the
// one the code produces; and the comparer itself, on small documents, for each kind of change.
import { openApiDocument } from "@credits/api";
import { describe, expect, it } from "vitest";
import { compare, DOCUMENT_BASE_URL, readCommitted } from "../src/openapi-compat.ts";

describe("the committed OpenAPI document", () => {
  it("has no breaking change against the code (pnpm openapi:update after a compatible one)", () => {
    const result = compare(readCommitted(), openApiDocument(DOCUMENT_BASE_URL));
    const message = `breaking changes to /api/v1 without a new major version:\n${result.breaking.join("\n")}`;
    expect(result.newMajor || result.breaking.length === 0, message).toBe(true);
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

  it("lets a breaking change pass with a new major version", () => {
    const result = changed((doc) => {
      delete (doc.paths as Record<string, unknown>)["/me"];
      doc.info.version = "2.0.0";
    });
    expect(result.breaking.length).toBeGreaterThan(0);
    expect(result.newMajor).toBe(true);
  });
});
