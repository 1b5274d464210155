import { describe, expect, it } from "vitest";
import { parseEnv } from "../src/env.ts";

const base = { NODE_ENV: "test" };

describe("TRUST_PROXY", () => {
  it("is a hop count, or a list of trusted addresses and CIDRs; unset or false trusts no header", () => {
    expect(parseEnv(base).TRUST_PROXY).toBe(0);
    expect(parseEnv({ ...base, TRUST_PROXY: "false" }).TRUST_PROXY).toBe(0);
    expect(parseEnv({ ...base, TRUST_PROXY: "0" }).TRUST_PROXY).toBe(0);
    expect(parseEnv({ ...base, TRUST_PROXY: "2" }).TRUST_PROXY).toBe(2);
    expect(parseEnv({ ...base, TRUST_PROXY: "10.0.0.0/8, 127.0.0.1,::1/128, loopback" }).TRUST_PROXY).toEqual([
      "10.0.0.0/8",
      "127.0.0.1",
      "::1/128",
      "loopback",
    ]);
  });

  it("refuses true, with a message that says what to give instead", () => {
    expect(() => parseEnv({ ...base, TRUST_PROXY: "true" })).toThrow(/TRUST_PROXY: give the number of proxy hops/);
  });

  it("refuses what is neither a count nor an address or CIDR", () => {
    for (const value of ["yes", "10.0.0.0/33", "::1/129", "10.0.0.1/8/2", "proxy.example", "-1", "1.5"]) {
      expect(() => parseEnv({ ...base, TRUST_PROXY: value }), value).toThrow(/TRUST_PROXY/);
    }
  });
});

describe("HTTP server timeouts", () => {
  it("default above load balancers' idle timeouts, with a request timeout", () => {
    const env = parseEnv(base);
    expect(env.HTTP_KEEP_ALIVE_TIMEOUT_MS).toBe(65_000);
    expect(env.HTTP_HEADERS_TIMEOUT_MS).toBe(66_000);
    expect(env.HTTP_REQUEST_TIMEOUT_MS).toBe(120_000);
  });

  it("keep the headers timeout above keep-alive and the request timeout at least the headers one", () => {
    expect(() => parseEnv({ ...base, HTTP_KEEP_ALIVE_TIMEOUT_MS: "70000" })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
    expect(() => parseEnv({ ...base, HTTP_HEADERS_TIMEOUT_MS: "130000" })).toThrow(/HTTP_REQUEST_TIMEOUT_MS/);
    const custom = parseEnv({ ...base, HTTP_KEEP_ALIVE_TIMEOUT_MS: "1000", HTTP_HEADERS_TIMEOUT_MS: "2000" });
    expect([custom.HTTP_KEEP_ALIVE_TIMEOUT_MS, custom.HTTP_HEADERS_TIMEOUT_MS]).toEqual([1_000, 2_000]);
  });
});

describe("log-in limits and password hashing", () => {
  it("default to 10 failures per (email, address) and 100 per email per 15 minutes, 2 hashes at once", () => {
    const env = parseEnv(base);
    expect([env.AUTH_FAILED_LOGINS_PER_ADDRESS, env.AUTH_FAILED_LOGINS_PER_EMAIL]).toEqual([10, 100]);
    expect([env.PASSWORD_HASH_CONCURRENCY, env.PASSWORD_HASH_QUEUE]).toEqual([2, 64]);
  });

  it("refuse a per-email ceiling below the per-address limit", () => {
    expect(() =>
      parseEnv({ ...base, AUTH_FAILED_LOGINS_PER_ADDRESS: "20", AUTH_FAILED_LOGINS_PER_EMAIL: "10" }),
    ).toThrow(/AUTH_FAILED_LOGINS_PER_EMAIL/);
  });
});

describe("/metrics in production", () => {
  it("refuses METRICS_BIND=any without METRICS_TOKEN", () => {
    const production = { NODE_ENV: "production", ALLOW_LOCAL_PAYMENTS: "true" };
    expect(() => parseEnv({ ...production, METRICS_BIND: "any" })).toThrow(/METRICS_TOKEN/);
    const token = "a-metrics-token-of-some-length";
    expect(parseEnv({ ...production, METRICS_BIND: "any", METRICS_TOKEN: token }).METRICS_BIND).toBe("any");
    expect(parseEnv({ ...base, METRICS_BIND: "any" }).METRICS_BIND).toBe("any");
  });
});
