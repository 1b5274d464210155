import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { safeRedirect } from "../app/lib/safe-redirect.ts";

const PUBLIC = "https://credits.example";

// Pieces of known open-redirect bypasses, to be combined in any order with arbitrary text.
const bypassPieces = [
  "/",
  "//",
  "\\",
  "/\\",
  "\\/",
  "\t",
  "\n",
  "\r",
  " ",
  "\u0000",
  "\u001f",
  "%09",
  "%0a",
  "%2f",
  "%2F",
  "%5c",
  "%252f",
  ".",
  "..",
  "/./",
  "/../",
  "@",
  ":",
  "?",
  "#",
  "javascript:",
  "data:",
  "http:",
  "https:",
  "evil.example",
  "user:pass@",
  "\u3000",
  "\uff0f",
  "\uff3c",
  "\u2215",
  "\u2044",
  "\ufe68",
  "\u00a0",
  "\u200b",
  "\ud800",
  "ｅｖｉｌ．ｅｘａｍｐｌｅ",
];
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...bypassPieces) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
);
const hostileTarget = fc.array(piece, { maxLength: 10 }).map((parts) => parts.join(""));

// The result, read by a browser as a Location header on any host, stays on that host.
function assertSamePath(result: string) {
  expect(result).toMatch(/^\/(?![/\\])[\x21-\x7e]*$/);
  for (const host of [PUBLIC, "http://127.0.0.1:3000"]) {
    expect(new URL(result, host).origin).toBe(new URL(host).origin);
  }
}

describe("safeRedirect", () => {
  it("sends any input to a path on our own origin (fast-check over bypass forms)", () => {
    fc.assert(
      fc.property(hostileTarget, (to) => {
        const result = safeRedirect(to, PUBLIC);
        assertSamePath(result);
        expect(safeRedirect(result, PUBLIC)).toBe(result);
      }),
      { numRuns: 5_000 },
    );
  });

  it.each([
    "/\t/evil.example",
    "/\n/evil.example",
    "/\\evil.example",
    "//evil.example",
    "/.//evil.example",
    "/%2F/evil.example",
    "javascript:alert(1)",
    "data:text/html,x",
    "https://evil.example",
    "https://credits.example@evil.example",
    "/\uff0f\uff0fevil.example",
    "\u3000//evil.example",
  ])("refuses %j", (to) => {
    const result = safeRedirect(to, PUBLIC);
    assertSamePath(result);
    expect(new URL(result, "https://other.example").host).toBe("other.example");
  });

  it("keeps an ordinary path, query and fragment as they are", () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.option(segment), (segments, query) => {
        const path = `/${segments.join("/")}${query ? `?q=${query}` : ""}`;
        expect(safeRedirect(path, PUBLIC)).toBe(path);
      }),
    );
  });

  it("falls back for anything that is not a string path", () => {
    for (const to of [null, undefined, 42, "", "credits", "x".repeat(3_000)]) {
      expect(safeRedirect(to, PUBLIC)).toBe("/credits");
    }
    expect(safeRedirect("//evil.example", PUBLIC, "/")).toBe("/");
  });
});
