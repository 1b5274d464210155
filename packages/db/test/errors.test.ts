import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "../src/errors.ts";

describe("isDatabaseUnavailable", () => {
  it("recognises a database that cannot be reached, under wrappers", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    expect(isDatabaseUnavailable(refused)).toBe(true);
    expect(isDatabaseUnavailable(new Error("query failed", { cause: refused }))).toBe(true);
    for (const code of ["57P01", "57P03", "08006", "53300", "CONNECTION_CLOSED", "CONNECT_TIMEOUT"]) {
      expect(isDatabaseUnavailable({ code }), code).toBe(true);
    }
  });

  it("leaves every other error alone", () => {
    for (const code of ["23505", "40001", "22003", "ENOENT", undefined]) {
      expect(isDatabaseUnavailable({ code }), String(code)).toBe(false);
    }
    expect(isDatabaseUnavailable(new Error("plain"))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
  });
});
