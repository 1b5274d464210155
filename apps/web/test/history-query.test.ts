import { MAX_CURSOR_LENGTH } from "@credits/api/limits";
import { describe, expect, test } from "vitest";
import {
  apiWindow,
  historyHref,
  nextPage,
  pageNumber,
  parseHistoryQuery,
  previousPage,
} from "../app/lib/history-query.ts";

const parse = (search: string) => parseHistoryQuery(new URLSearchParams(search));

describe("history URL state", () => {
  test("keeps known kinds once, drops unknown ones, defaults to newest first", () => {
    const { query, errors } = parse("kind=spend&kind=bogus&kind=spend&kind=purchase");
    expect(query.kinds).toEqual(["spend", "purchase"]);
    expect(query.order).toBe("desc");
    expect(errors).toEqual({});
  });

  test("a kind is one of the ledger's own, never a name every object has", () => {
    expect(parse("kind=constructor&kind=toString&kind=__proto__&kind=grant").query.kinds).toEqual(["grant"]);
  });

  test("dates: invalid ones and inverted ranges are errors on their own field", () => {
    expect(parse("from=2026-02-30").errors).toEqual({ from: "Enter a date as YYYY-MM-DD." });
    expect(parse("to=yesterday").errors).toEqual({ to: "Enter a date as YYYY-MM-DD." });
    const inverted = parse("from=2026-03-01&to=2026-02-01");
    expect(inverted.errors.to).toMatch(/on or after/);
    expect(inverted.query.to).toBe("");
  });

  test("the API window covers the whole last day (its upper bound is exclusive)", () => {
    expect(apiWindow(parse("from=2026-01-31&to=2026-02-28").query)).toEqual({
      from: "2026-01-31T00:00:00.000Z",
      to: "2026-03-01T00:00:00.000Z",
    });
  });

  test("pages: next carries the trail, previous walks it back to the first page", () => {
    const first = parse("kind=grant&order=asc").query;
    expect(pageNumber(first)).toBe(1);
    expect(previousPage(first)).toBeNull();

    const secondHref = historyHref(first, nextPage(first, "c1"));
    expect(secondHref).toBe("/credits/history?kind=grant&order=asc&cursor=c1");
    const second = parse(secondHref.split("?")[1] ?? "").query;
    expect(pageNumber(second)).toBe(2);

    const third = parse(historyHref(second, nextPage(second, "c2")).split("?")[1] ?? "").query;
    expect(third.trail).toEqual(["c1"]);
    expect(pageNumber(third)).toBe(3);
    expect(historyHref(third, previousPage(third) ?? { cursor: null, trail: [] })).toBe(
      "/credits/history?kind=grant&order=asc&cursor=c1",
    );
    expect(historyHref(second, previousPage(second) ?? { cursor: null, trail: [] })).toBe(
      "/credits/history?kind=grant&order=asc",
    );
  });

  test("a malformed cursor is ignored, not passed on", () => {
    expect(parse("cursor=../../etc").query.cursor).toBeNull();
  });

  test("a cursor may be as long as the API accepts, and no longer", () => {
    const longest = "a".repeat(MAX_CURSOR_LENGTH);
    expect(parse(`cursor=${longest}`).query.cursor).toBe(longest);
    expect(parse(`cursor=${longest}b`).query.cursor).toBeNull();
  });
});
