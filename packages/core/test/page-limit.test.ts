// A page's size is checked in one place (validate.ts): every list the core serves refuses the same
// sizes with the same words.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../src/errors.ts";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../src/limits.ts";
import { pageLimit } from "../src/validate.ts";

const SRC = join(import.meta.dirname, "../src");

describe("pageLimit", () => {
  it("takes a whole number from 1 to MAX_PAGE_SIZE, or the list's default when none is given", () => {
    expect(pageLimit(1)).toBe(1);
    expect(pageLimit(MAX_PAGE_SIZE)).toBe(MAX_PAGE_SIZE);
    expect(pageLimit(undefined)).toBe(DEFAULT_PAGE_SIZE);
    expect(pageLimit(undefined, 50)).toBe(50);
  });

  it("refuses anything else with one message", () => {
    for (const limit of [0, -1, MAX_PAGE_SIZE + 1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => pageLimit(limit)).toThrow(new InvalidInputError(`limit must be from 1 to ${MAX_PAGE_SIZE}`));
    }
  });

  it("is the only place in the core that checks a page's size", () => {
    const files = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const checking = files.filter((f) => readFileSync(join(SRC, f), "utf8").includes("limit must be from 1 to"));
    expect(checking).toEqual(["validate.ts"]);
  });
});
