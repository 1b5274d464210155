import { describe, expect, it } from "vitest";
import { parseEnv } from "../src/env.ts";

describe("parseEnv", () => {
  it("refuses production on the free local checkout unless a demo asks for it", () => {
    expect(() => parseEnv({ NODE_ENV: "production" })).toThrow(/STRIPE_SECRET_KEY/);
    expect(parseEnv({ NODE_ENV: "production", ALLOW_LOCAL_PAYMENTS: "true" }).ALLOW_LOCAL_PAYMENTS).toBe(true);
    expect(
      parseEnv({ NODE_ENV: "production", STRIPE_SECRET_KEY: "sk_test_x", STRIPE_WEBHOOK_SECRET: "whsec_x" })
        .STRIPE_SECRET_KEY,
    ).toBe("sk_test_x");
    expect(parseEnv({ NODE_ENV: "development" }).STRIPE_SECRET_KEY).toBeUndefined();
  });

  it("treats an unset NODE_ENV as production: no free local checkout unless asked for", () => {
    expect(() => parseEnv({})).toThrow(/STRIPE_SECRET_KEY/);
    expect(parseEnv({ ALLOW_LOCAL_PAYMENTS: "true" }).NODE_ENV).toBe("production");
    expect(parseEnv({ NODE_ENV: "test" }).NODE_ENV).toBe("test");
  });

  it("behind a transaction pooler (prepared statements off) needs no direct URL: nothing LISTENs (ADR 020)", () => {
    const pooled = { NODE_ENV: "development", DATABASE_URL: "postgres://app@127.0.0.1:6432/credits" };
    expect(parseEnv({ ...pooled, DATABASE_PREPARE: "false" }).DATABASE_PREPARE).toBe(false);
    expect(parseEnv(pooled).DATABASE_PREPARE).toBe(true);
  });

  it("binds loopback unless HOST says otherwise", () => {
    expect(parseEnv({ NODE_ENV: "development" }).HOST).toBe("127.0.0.1");
    expect(parseEnv({ NODE_ENV: "development", HOST: "0.0.0.0" }).HOST).toBe("0.0.0.0");
  });

  it("defaults PUBLIC_URL to localhost on PORT (the start-up message's /setup link), unless it is set", () => {
    const dev = { NODE_ENV: "development" };
    expect(parseEnv({ ...dev, PORT: "3999" }).PUBLIC_URL).toBe("http://localhost:3999");
    expect(parseEnv(dev).PUBLIC_URL).toBe("http://localhost:3000");
    expect(parseEnv({ ...dev, PORT: "3999", PUBLIC_URL: "https://credits.example" }).PUBLIC_URL).toBe(
      "https://credits.example",
    );
    // A port picked at listen time (0) is not known here: the usual default, as before.
    expect(parseEnv({ ...dev, PORT: "0" }).PUBLIC_URL).toBe("http://localhost:3000");
  });

  it("requires the webhook secret with a Stripe key", () => {
    expect(() => parseEnv({ NODE_ENV: "development", STRIPE_SECRET_KEY: "sk_test_x" })).toThrow(
      /STRIPE_WEBHOOK_SECRET/,
    );
  });
});
