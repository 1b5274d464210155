// The one free-text predicate (textProblem / isStorableText / assertText): what it accepts is
// exactly bounded, well-formed Unicode without control characters (but tab, newline and carriage
// return in multi-line text) and without bidirectional controls.
import { assertText, InvalidInputError, isStorableText, MAX_TEXT_LENGTH, textProblem } from "@credits/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const BIDI = ["\u061C", "\u200E", "\u200F", "\u202A", "\u202B", "\u202C", "\u202D", "\u202E"].concat([
  "\u2066",
  "\u2067",
  "\u2068",
  "\u2069",
]);
const LINE_BREAKS = ["\t", "\n", "\r"];
const isControl = (unit: number) => unit < 0x20 || (unit >= 0x7f && unit <= 0x9f);

// An independent statement of the rule, code unit by code unit.
function expected(value: string, multiline: boolean, maxLength: number): boolean {
  if (value.length > maxLength) return false;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
      continue;
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) return false;
    if (isControl(unit) && !(multiline && LINE_BREAKS.includes(value[i] ?? ""))) return false;
    if (BIDI.includes(value[i] ?? "")) return false;
  }
  return true;
}

// Text mixing ordinary characters with every kind of hostile code unit.
const hostileUnit = fc.oneof(
  fc.constantFrom(...BIDI, ...LINE_BREAKS, "\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\u009f"),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
);
const mixedText = fc
  .array(fc.oneof({ weight: 4, arbitrary: fc.string({ unit: "grapheme", maxLength: 4 }) }, hostileUnit), {
    maxLength: 30,
  })
  .map((parts) => parts.join(""));

describe("textProblem", () => {
  it("agrees with the rule on any text, single- and multi-line, at any bound", () => {
    fc.assert(
      fc.property(mixedText, fc.boolean(), fc.integer({ min: 0, max: 80 }), (value, multiline, maxLength) => {
        expect(isStorableText(value, { multiline, maxLength })).toBe(expected(value, multiline, maxLength));
      }),
      { seed: 20261204, numRuns: 2_000 },
    );
  });

  it("accepts ordinary text of any script, emoji included, up to the bound", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 50 }), (value) => {
        const clean = [...value].filter((ch) => expected(ch, false, 10)).join("");
        expect(textProblem(clean, { maxLength: clean.length })).toBeNull();
        if (clean.length > 0) expect(textProblem(clean, { maxLength: clean.length - 1 })).toMatch(/at most/);
      }),
      { seed: 20261204 },
    );
  });

  it("refuses each hostile character wherever it stands, and says what is wrong", () => {
    for (const [char, problem] of [
      ["\u0000", /control characters/],
      ["\u001b", /control characters/],
      ["\ud83d", /well-formed/],
      ["\ude00", /well-formed/],
      ["\u202E", /bidirectional/],
      ["\u2066", /bidirectional/],
      ["\u200F", /bidirectional/],
      ["\u061C", /bidirectional/],
    ] as const) {
      for (const value of [char, `a${char}`, `${char}b`, `a${char}b`]) {
        expect(textProblem(value)).toMatch(problem);
        expect(textProblem(value, { multiline: true })).toMatch(problem);
      }
    }
  });

  it("keeps line breaks and tabs only in multi-line text", () => {
    expect(textProblem("one\r\ntwo\tthree", { multiline: true })).toBeNull();
    expect(textProblem("one\ntwo")).toMatch(/control characters/);
  });

  it("bounds every text, by default at MAX_TEXT_LENGTH", () => {
    expect(textProblem("x".repeat(MAX_TEXT_LENGTH))).toBeNull();
    expect(textProblem("x".repeat(MAX_TEXT_LENGTH + 1))).toMatch(/at most/);
  });
});

describe("assertText", () => {
  it("throws the core's InvalidInputError naming the field", () => {
    expect(() => assertText("a\u0000b", "name")).toThrow(InvalidInputError);
    expect(() => assertText("a\u0000b", "name")).toThrow(/^name must not contain control characters$/);
    expect(() => assertText("fine", "name")).not.toThrow();
  });
});
