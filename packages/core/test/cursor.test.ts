import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeCursor, decodeTimeCursor, encodeCursor, encodeTimeCursor } from "../src/cursor.ts";
import { InvalidInputError } from "../src/errors.ts";

// The largest sequence number a cursor carries (15 digits): far above any real ledger, and far
// below 2^53, so a decoded number is always exact.
const MAX_CURSOR_SEQ = 999_999_999_999_999;
const raw = (text: string) => Buffer.from(text).toString("base64url");

describe("cursor", () => {
  it("round-trips every sequence number it can carry", () => {
    for (const seq of [0, 1, 42, 2 ** 31, MAX_CURSOR_SEQ]) {
      expect(decodeCursor(encodeCursor({ seq }))).toEqual({ seq });
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_CURSOR_SEQ }), (seq) => {
        const encoded = encodeCursor({ seq });
        expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(decodeCursor(encoded)).toEqual({ seq });
      }),
      { numRuns: 500 },
    );
  });

  it("is opaque: the encoding is versioned base64url, not a bare number", () => {
    expect(encodeCursor({ seq: 5 })).toBe(raw("v1:5"));
    expect(encodeCursor({ seq: 5 })).not.toContain("5");
  });

  it("rejects garbage, other versions, negative, fractional and huge numbers", () => {
    const bad = [
      "",
      "!!!",
      "not a cursor",
      "bm90LWEtY3Vyc29y", // "not-a-cursor"
      raw("5"),
      raw("v1:"),
      raw("v1:abc"),
      raw("v2:5"),
      raw("v0:5"),
      raw("V1:5"),
      raw(" v1:5"),
      raw("v1:5 "),
      raw("v1:5\n"),
      raw("v1:-1"),
      raw("v1:+1"),
      raw("v1:1.5"),
      raw("v1:1e3"),
      raw("v1:0x10"),
      raw("v1:1000000000000000"), // 16 digits
      raw(`v1:${Number.MAX_SAFE_INTEGER}`),
      raw("v1:99999999999999999999999"),
      raw("v1:5:extra"),
    ];
    for (const cursor of bad) {
      expect(() => decodeCursor(cursor), JSON.stringify(cursor)).toThrow(InvalidInputError);
    }
  });

  it("never throws anything but InvalidInputError, and never yields an unsafe number", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.base64String(), fc.string().map(raw)), (input) => {
        let decoded: { seq: number } | undefined;
        try {
          decoded = decodeCursor(input);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidInputError);
          return;
        }
        expect(Number.isSafeInteger(decoded.seq)).toBe(true);
        expect(decoded.seq).toBeGreaterThanOrEqual(0);
        expect(decoded.seq).toBeLessThanOrEqual(MAX_CURSOR_SEQ);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("time cursor", () => {
  it("round-trips a (time, id) position and refuses anything else", () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date(9e14), noInvalidDate: true }), fc.uuid(), (at, id) => {
        expect(decodeTimeCursor(encodeTimeCursor({ at, id }))).toEqual({ at, id });
      }),
    );
    for (const bad of ["", raw("t1:5"), raw("t1:x:00000000-0000-0000-0000-000000000000"), raw("v1:5"), "%%%"]) {
      expect(() => decodeTimeCursor(bad)).toThrow(InvalidInputError);
    }
  });
});
