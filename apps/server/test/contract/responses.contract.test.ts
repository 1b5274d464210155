// The contract test (run last, vitest.config.ts): every answer the servers of the unit project's
// test files gave on a documented route (recorded by record.setup.ts) is one the OpenAPI document
// allows: a documented status for its operation, required headers present, the body valid against
// its schema. Unknown statuses or shapes fail here, naming the operation.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openApiDocument } from "@credits/api";
import { describe, expect, it } from "vitest";
import type { ObservedResponse } from "../../src/response-observers.ts";
import { startTestServer } from "../harness.ts";
import { type Answer, contractChecker } from "./check.ts";
import { RECORDINGS_DIR } from "./recordings.ts";

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document walked as JSON
type Json = any;
const doc = openApiDocument("http://localhost:3000/api/v1");
const checker = contractChecker(doc);

function recordings(): ObservedResponse[] {
  const files = readdirSync(RECORDINGS_DIR).filter((name) => name.endsWith(".jsonl"));
  return files.flatMap((name) =>
    readFileSync(join(RECORDINGS_DIR, name), "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as ObservedResponse),
  );
}

describe("every answer the test suites produced through the real server", () => {
  it("is documented: status, headers and body", () => {
    const answers = recordings();
    // The unit project ran first and recorded; none means the recording broke, not a clean run.
    expect(answers.length, `no recordings in ${RECORDINGS_DIR}: run the unit project first`).toBeGreaterThan(0);
    const problems = new Map<string, number>();
    for (const answer of answers) {
      const problem = checker.problemOf(answer);
      if (problem) problems.set(problem, (problems.get(problem) ?? 0) + 1);
    }
    const report = [...problems].map(([problem, n]) => `${n}× ${problem}`);
    expect(report, report.join("\n")).toEqual([]);
  });
});

const answer = (overrides: Partial<Answer>): Answer => ({
  method: "POST",
  path: "/api/v1/credits/spend",
  status: 200,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ transactionId: "6f1c1f9e-8a5e-4c2b-9d43-2d7f1f3a0b11", balance: 3 }),
  ...overrides,
});
const error = (code: string) => JSON.stringify({ error: { code, message: "m" } });

describe("the document's examples", () => {
  it("every operation has request and response examples, each valid against its schema", () => {
    expect(checker.exampleProblems()).toEqual([]);
    const spend = doc.paths?.["/credits/spend"]?.post as Json;
    expect(spend.requestBody.content["application/json"].example).toMatchObject({
      amount: 3,
      idempotencyKey: "job-42",
    });
    expect(spend.responses["200"].content["application/json"].example).toEqual({
      transactionId: expect.any(String),
      balance: 120,
    });
  });

  it("names an example that no longer fits its schema", () => {
    const rotten: Json = JSON.parse(JSON.stringify(doc));
    rotten.paths["/credits/spend"].post.requestBody.content["application/json"].example = { amount: "3" };
    delete rotten.paths["/me"].get.responses["200"].content["application/json"].example;
    const problems = contractChecker(rotten).exampleProblems();
    expect(problems).toEqual([
      expect.stringMatching(/^GET \/me: no example at .*responses\/200/),
      expect.stringMatching(/^POST \/credits\/spend: example off its schema at .*requestBody/),
    ]);
  });
});

describe("the checker", () => {
  it("accepts a documented answer", () => {
    expect(checker.problemOf(answer({}))).toBeNull();
    expect(checker.problemOf(answer({ status: 402, body: error("INSUFFICIENT_CREDITS") }))).toBeNull();
    expect(
      checker.problemOf(answer({ status: 429, headers: { "retry-after": "30" }, body: error("LIMIT_EXCEEDED") })),
    ).toBeNull();
  });

  it("refuses an undocumented status, a code the status cannot carry, a missing header, an extra field", () => {
    expect(checker.problemOf(answer({ status: 418, body: error("TEAPOT") }))).toMatch(/status not documented/);
    expect(checker.problemOf(answer({ status: 402, body: error("NOT_FOUND") }))).toMatch(/off its schema/);
    expect(checker.problemOf(answer({ status: 429, body: error("LIMIT_EXCEEDED") }))).toMatch(/no Retry-After/);
    const extra = JSON.stringify({ transactionId: "6f1c1f9e-8a5e-4c2b-9d43-2d7f1f3a0b11", balance: 3, secret: 1 });
    expect(checker.problemOf(answer({ body: extra }))).toMatch(/off its schema/);
    expect(checker.problemOf(answer({ body: JSON.stringify({ balance: "3" }) }))).toMatch(/off its schema/);
    // The sign-up answers 201, never 200; a public operation never 401.
    const signUp = { path: "/api/v1/auth/signup", body: JSON.stringify({ user: {} }) };
    expect(checker.problemOf(answer({ ...signUp, status: 200 }))).toMatch(/status not documented/);
    expect(checker.problemOf(answer({ path: "/api/v1/packages", method: "GET", status: 401 }))).toMatch(
      /status not documented/,
    );
  });

  it("finds the operation of a concrete path, and none for a path it does not describe", () => {
    expect(checker.routeOf("POST", "/api/v1/credits/holds/abc/capture")?.template).toBe(
      "/credits/holds/{holdId}/capture",
    );
    expect(checker.routeOf("GET", "/healthz")?.template).toBe("/healthz");
    expect(checker.routeOf("GET", "/api/v1/healthz")).toBeNull();
    expect(checker.routeOf("PUT", "/api/v1/credits/spend")).toBeNull();
  });
});

describe("recording through the real server", () => {
  it("records what the server answers, and an answer the document omits fails (an oversized body: 413)", async () => {
    const { observeResponses } = await import("../../src/response-observers.ts");
    const server = await startTestServer({ BODY_LIMIT_BYTES: "1024" });
    const seen: ObservedResponse[] = [];
    const stop = observeResponses((observed) => seen.push(observed));
    try {
      const big = await fetch(`${server.url}/api/v1/credits/spend`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pad: "x".repeat(2048) }),
      });
      expect(big.status).toBe(413);
      const packages = await fetch(`${server.url}/api/v1/packages`);
      expect(packages.status).toBe(200);
    } finally {
      stop();
    }
    expect(seen.map((s) => `${s.method} ${s.path} ${s.status}`)).toEqual([
      "POST /api/v1/credits/spend 413",
      "GET /api/v1/packages 200",
    ]);
    for (const observed of seen) expect(checker.problemOf(observed)).toBeNull();
    // The same answer on an operation whose document omitted 413 is a failure.
    // biome-ignore lint/suspicious/noExplicitAny: the document edited as JSON
    const narrowed: any = structuredClone(doc);
    delete narrowed.paths["/credits/spend"].post.responses["413"];
    expect(contractChecker(narrowed).problemOf(seen[0] as Answer)).toMatch(/status not documented/);
  });
});
