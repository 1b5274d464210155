import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseEnv } from "../src/env.ts";

// The README's RateLimit example is a log-in with the defaults: its quota is the default
// AUTH_RATE_LIMIT_PER_MINUTE (review: it said q=10 while the default was 20).
const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

describe("the README's RateLimit example", () => {
  it("shows the default auth quota, and one request taken of it", () => {
    const quota = parseEnv({ NODE_ENV: "test" }).AUTH_RATE_LIMIT_PER_MINUTE;
    const policies = [...readme.matchAll(/RateLimit-Policy: "auth";q=(\d+);w=60/g)].map((m) => Number(m[1]));
    const states = [...readme.matchAll(/RateLimit: "auth";r=(\d+);t=\d+/g)].map((m) => Number(m[1]));
    expect(policies).toEqual([quota]);
    expect(states).toEqual([quota - 1]);
    expect(readme).toContain(`| \`AUTH_RATE_LIMIT_PER_MINUTE\` | \`${quota}\` |`);
  });
});
