// An unexpected error in a web page's loader or action is reported like one in the API: through
// the redacted logger (and errors_total), never printed raw. A failed query's message carries its
// parameters, which for a sign-up are the new account's email and password hash.
import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import { errorsTotal } from "@credits/observability";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { testDb } from "./harness.ts";
import { postForm, startWebServer } from "./hostile-web-helpers.ts";

const server = await startWebServer("production");
const base = server.url;
const TRIGGER = "refused by the database";

beforeAll(async () => {
  // A way to make the sign-up's INSERT fail in the database itself, with its parameters.
  await testDb.db.execute(sql.raw(`ALTER TABLE users ADD CONSTRAINT test_refused_name CHECK (name <> '${TRIGGER}')`));
});
afterAll(async () => {
  await testDb.db.execute(sql`ALTER TABLE users DROP CONSTRAINT test_refused_name`);
});

const httpErrors = async () =>
  (await errorsTotal.get()).values.find((value) => value.labels.where === "http")?.value ?? 0;

it("a failed query behind a sign-up form prints neither the password hash nor the email", async () => {
  const reportedBefore = await httpErrors();
  const printed = vi.spyOn(console, "error").mockImplementation(() => {});
  const email = `leak-${randomUUID()}@example.test`;
  try {
    const reply = await postForm(
      base,
      "/signup",
      { name: TRIGGER, email, password: "correct horse battery" },
      { origin: base },
    );
    expect(reply.status).toBe(500);
    // As console.error would print it: the message, the stack and every cause.
    const everything = printed.mock.calls
      .flat()
      .map((part) => inspect(part, { depth: 10 }))
      .join("\n");
    expect(everything).not.toContain("$argon2id$");
    expect(everything).not.toContain(email);
    // Reported (logged redacted, counted) rather than dropped.
    expect(await httpErrors()).toBe(reportedBefore + 1);
  } finally {
    printed.mockRestore();
  }
});
