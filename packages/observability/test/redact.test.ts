// The one redaction function (logs, error bodies, error reports, span status), on each kind of
// secret, and what it must leave alone.
import { describe, expect, it } from "vitest";
import { captureLogs, logger, REDACTED, redact, redactText } from "../src/index.ts";

describe("redactText: each kind of secret in free text", () => {
  it.each([
    ["an email", "signup failed for Alice.Smith+tag@mail.example.co.uk today", "[email]", "Alice.Smith"],
    ["a Stripe live secret key", "using sk_live_51HqLyjWDarjtT1zdp7dcXYZ", "[stripe-key]", "sk_live_"],
    ["a Stripe test secret key", "key=sk_test_payments_5f0e9a2b7c1d4e6f", "[stripe-key]", "sk_test_"],
    ["a Stripe test key in prose", "the key sk_test_4eC39HqLyjWDarjtT1zdp7dc is wrong", "[stripe-key]", "4eC39Hq"],
    ["a restricted key", "rk_live_51HqLyjWDarjtT1zdp7dc0000", "[stripe-key]", "rk_live_"],
    ["a webhook secret", "secret whsec_test_payments_9c41d7e0b2a84f3e rejected", "[webhook-secret]", "whsec_"],
    ["our API key", "called with ck_abcdefghijklmnopqrstuvwxyz234567abcdefg", "[api-key]", "ck_abcdef"],
    ["a Bearer token", "Authorization: Bearer eyJhbGciOi.payload.sig", "[redacted]", "eyJhbGciOi"],
    ["a Basic credential", "header Basic dXNlcjpwYXNz sent", "Basic [redacted]", "dXNlcjpwYXNz"],
    ["an authorization pair", "authorization=Basic dXNlcjpwYXNz", "[redacted]", "dXNlcjpwYXNz"],
    [
      "a session cookie",
      "Cookie: session=abcdefghijklmnopqrstuvwxyz234567; theme=dark",
      "[redacted]",
      "abcdefghijklmnop",
    ],
    ["a __Host- session cookie", "__Host-session=abcdefghijklmnopqrstuvwxyz234567", "[redacted]", "abcdefghijklmnop"],
    [
      "a Stripe-Signature pair",
      "stripe-signature: t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
      "[redacted]",
      "5257a869",
    ],
    [
      "a bare signature",
      "sig t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
      "[signature]",
      "5257a869",
    ],
    ["a password in JSON text", '{"email":"x","password":"hunter2 hunter2"}', `"password":${REDACTED}`, "hunter2"],
    ["a password in a query string", "POST /login?user=bob&password=hunter2&next=/", "password=[redacted]", "hunter2"],
    ["a token field", "reset token: 8f14e45fceea167a5a36dedd4bea2543", "[redacted]", "8f14e45f"],
    ["a card number", "card 4242424242424242 declined", "[card]", "4242424242424242"],
    ["a spaced card number", "card 4242 4242 4242 4242 declined", "[card]", "4242 4242"],
    ["a dashed card number", "card 5555-5555-5555-4444 declined", "[card]", "5555-5555"],
    ["an Amex number", "card 3782 822463 10005 declined", "[card]", "822463"],
    ["a 13-digit card number", "card 4222222222222 declined", "[card]", "4222222222222"],
    ["a 19-digit card number", "card 6011000990139424123 declined", "[card]", "6011000990139424123"],
  ])("%s", (_kind, input, replacement, secret) => {
    const output = redactText(input);
    expect(output).toContain(replacement);
    expect(output).not.toContain(secret);
  });

  it("leaves ordinary text alone: ids, amounts, dates, short numbers, Stripe object ids", () => {
    const text =
      "user 3f0e4a52-9c1d-4b7e-8f2a-6d5c4b3a2910 spent 1250 credits (balance 98) at 2026-11-26T13:15:13.984Z; " +
      "session cs_test_a1B2c3D4e5F6g7H8, payment pi_3MtwBwLkdIwHu7ix28a3tqPa, event evt_1NG8Du2eZvKYlo2CUI79vXWy, " +
      "idempotency key spend-42, phone 555-0100";
    expect(redactText(text)).toBe(text);
  });

  it("bounds what it reads", () => {
    const long = `${"a".repeat(10_000)} alice@example.com`;
    const output = redactText(long);
    expect(output.length).toBeLessThan(8_300);
    expect(output).toContain("[truncated]");
  });
});

describe("redact: values, by key and by content", () => {
  it("redacts secret-named keys whatever they hold, emails by key, and every string by pattern", () => {
    const input = {
      user: { id: "u1", email: "bob@example.com", customerEmail: "carol@example.com" },
      password: "correct horse battery",
      newPassword: "another one",
      sessionToken: "abcdefghijklmnopqrstuvwxyz234567",
      headers: { authorization: "Bearer xyz", cookie: "session=abc", "stripe-signature": "t=1,v1=ab" },
      apiKey: "ck_whatever",
      key: "ck_abcdefghijklmnopqrstuvwxyz234567abcdefg",
      webhookSecret: "whsec_abc",
      credentials: { anything: true },
      note: "refund for dave@example.com with card 4242424242424242",
      idempotencyKey: "spend-1",
      amount: 5,
      nested: [{ token: "t1" }, "mail erin@example.com"],
    };
    const output = redact(input) as Record<string, unknown>;
    expect(output).toEqual({
      user: { id: "u1", email: "[email]", customerEmail: "[email]" },
      password: REDACTED,
      newPassword: REDACTED,
      sessionToken: REDACTED,
      headers: { authorization: REDACTED, cookie: REDACTED, "stripe-signature": REDACTED },
      apiKey: REDACTED,
      key: REDACTED,
      webhookSecret: REDACTED,
      credentials: REDACTED,
      note: "refund for [email] with card [card]",
      idempotencyKey: "spend-1",
      amount: 5,
      nested: [{ token: REDACTED }, "mail [email]"],
    });
    // A copy: the input is untouched.
    expect(input.password).toBe("correct horse battery");
  });

  it("turns errors into type, message, stack and cause, all redacted", () => {
    const cause = new Error("driver said: password authentication failed for bob@example.com");
    const error = new Error("could not post for sk_live_51HqLyjWDarjtT1zdp7dc", { cause });
    const output = redact({ err: error }) as { err: Record<string, unknown> };
    expect(output.err.type).toBe("Error");
    expect(output.err.message).toBe("could not post for [stripe-key]");
    expect(output.err.stack).toEqual(expect.stringContaining("could not post for [stripe-key]"));
    expect(output.err.cause).toMatchObject({ message: "driver said: password authentication failed for [email]" });
    expect(JSON.stringify(output)).not.toMatch(/sk_live|bob@example/);
  });

  it("survives cycles, depth, bigints and Headers", () => {
    const cyclic: Record<string, unknown> = { name: "a" };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { email: "x@example.com" };
    for (let i = 0; i < 20; i += 1) deep = { deeper: deep };
    const output = redact({
      cyclic,
      deep,
      big: 12n,
      headers: new Headers({ authorization: "Bearer abc", accept: "json" }),
    });
    expect(JSON.stringify(output)).toContain("[circular]");
    expect(JSON.stringify(output)).toContain("[too deep]");
    expect(JSON.stringify(output)).not.toContain("x@example.com");
    expect((output as { big: unknown }).big).toBe("12");
    expect((output as { headers: unknown }).headers).toEqual({ authorization: REDACTED, accept: "json" });
  });
});

describe("the logger", () => {
  it("writes JSON lines redacted by the same function, message included", () => {
    const capture = captureLogs("debug");
    try {
      logger.info(
        { user: { email: "frank@example.com" }, headers: { authorization: "Bearer abc.def" }, amount: 3 },
        "login for frank@example.com with key sk_test_4eC39HqLyjWDarjtT1zdp7dc",
      );
      logger
        .child({ apiKey: "ck_abcdefghijklmnopqrstuvwxyz234567abcdefg" })
        .child({ email: "gina@example.com" })
        .warn("child line");
      logger.error({ err: new Error("card 4242 4242 4242 4242 refused") }, "failed");
    } finally {
      capture.stop();
    }
    const [info, child, error] = capture.entries();
    expect(info).toMatchObject({
      level: "info",
      msg: "login for [email] with key [stripe-key]",
      user: { email: "[email]" },
      headers: { authorization: REDACTED },
      amount: 3,
    });
    expect(child).toMatchObject({ level: "warn", apiKey: REDACTED, email: "[email]", msg: "child line" });
    expect(error).toMatchObject({ level: "error", err: { type: "Error", message: "card [card] refused" } });
    expect(capture.lines.join("")).not.toMatch(/frank@|gina@|sk_test_|ck_abc|4242 4242/);
  });
});

// drizzle wraps every failed query as "Failed query: <sql>\nparams: <values>": the values are the
// row being written (a password hash, a key hash, an email) and must never reach a log line.
describe("database errors", () => {
  function drizzleError(sql: string, params: unknown[], cause: Error): Error {
    const error = new Error(`Failed query: ${sql}\nparams: ${params}`, { cause });
    Object.assign(error, { query: sql, params });
    return error;
  }
  const hash = "scrypt$16384$8$1$8IYMFMYSPoN+BiFxNdqrAg==$3DhVPrmyyekspb8yzX015MUvoS+LRk4H9jXg9Tt6FZfd";
  const pg = Object.assign(new Error("refused by a trigger"), { code: "P0001", detail: `row ${hash}` });

  it("keep the SQL and the database's message, drop every parameter, in the message and the stack", () => {
    const error = drizzleError('insert into "users" ("email", "password_hash") values ($1, $2)', ["a@b.co", hash], pg);
    const out = JSON.stringify(redact({ err: error }));
    expect(out).toContain('insert into \\"users\\"');
    expect(out).toContain("params: [redacted]");
    expect(out).toContain("refused by a trigger");
    expect(out).toContain("P0001");
    expect(out).not.toMatch(/scrypt\$|a@b\.co|\[email\]/);
  });

  it("drop parameters that try to end the message early (a newline and a fake stack frame)", () => {
    const error = drizzleError("select $1, $2", ["x\n    at fake (file.js:1:1)", hash], pg);
    expect(JSON.stringify(redact(error))).not.toContain("scrypt$");
  });

  it("a wrapper copying the message (tRPC's INTERNAL_SERVER_ERROR) is cleaned the same way", () => {
    const inner = drizzleError("select $1", [hash], pg);
    const wrapper = new Error(inner.message, { cause: inner });
    expect(JSON.stringify(redact(wrapper))).not.toContain("scrypt$");
  });

  it("the same text inside any other string (a message interpolated into a log line) loses its parameters", () => {
    const text = redactText(`sign-up failed: Failed query: insert into users values ($1)\nparams: ${hash},user`);
    expect(text).toBe("sign-up failed: Failed query: insert into users values ($1)\nparams: [redacted]");
  });

  it("SQL string literals lose their values", () => {
    const error = drizzleError("select * from users where note = 'it''s secret' and id = $1", ["1"], pg);
    const { message } = redact(error) as { message: string };
    expect(message).toContain("note = '?'");
    expect(message).not.toContain("secret");
  });

  it("data exceptions (SQLSTATE class 22) lose the value PostgreSQL quotes in the message", () => {
    const error = Object.assign(new Error('invalid input syntax for type uuid: "alice-secret"'), { code: "22P02" });
    const { message, stack } = redact(error) as { message: string; stack: string };
    expect(message).toBe('invalid input syntax for type uuid: "?"');
    expect(stack).not.toContain("alice-secret");
    const constraint = Object.assign(new Error('violates check constraint "users_name_check"'), { code: "23514" });
    expect((redact(constraint) as { message: string }).message).toContain('"users_name_check"');
  });
});
