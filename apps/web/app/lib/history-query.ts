import { DEFAULT_PAGE_SIZE } from "@credits/api/limits";
import { isLedgerKind, type LedgerKind } from "./format.ts";
import { isPageCursor, pageCursor } from "./page-cursor.ts";

// The history page's state lives in its URL (shareable, and the back button works):
//   ?kind=purchase&kind=spend&from=2026-01-01&to=2026-01-31&order=asc&cursor=…&trail=…
// `cursor` is the API's opaque keyset cursor of the current page; `trail` the cursors of the
// pages before it (the first page has none), so "Previous" is a link too.

export const PAGE_SIZE = DEFAULT_PAGE_SIZE;
const MAX_TRAIL = 50;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface HistoryQuery {
  kinds: LedgerKind[];
  from: string;
  to: string;
  order: "asc" | "desc";
  cursor: string | null;
  trail: string[];
}

export interface ParsedHistoryQuery {
  query: HistoryQuery;
  errors: Partial<Record<"from" | "to", string>>;
}

function validDate(value: string): boolean {
  if (!DATE.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

export function parseHistoryQuery(params: URLSearchParams): ParsedHistoryQuery {
  const errors: ParsedHistoryQuery["errors"] = {};
  const kinds = [...new Set(params.getAll("kind").filter(isLedgerKind))];
  let from = params.get("from") ?? "";
  let to = params.get("to") ?? "";
  if (from && !validDate(from)) {
    errors.from = "Enter a date as YYYY-MM-DD.";
    from = "";
  }
  if (to && !validDate(to)) {
    errors.to = "Enter a date as YYYY-MM-DD.";
    to = "";
  }
  if (from && to && from > to) {
    errors.to = "The end date must be on or after the start date.";
    to = "";
  }
  const cursorParam = params.get("cursor");
  const cursor = pageCursor(cursorParam);
  const trail = cursor ? (params.get("trail") ?? "").split(".").filter(isPageCursor).slice(-MAX_TRAIL) : [];
  return { query: { kinds, from, to, order: params.get("order") === "asc" ? "asc" : "desc", cursor, trail }, errors };
}

// The API's window: from the start of `from` to the end of `to` (its upper bound is exclusive).
export function apiWindow(query: HistoryQuery): { from?: string; to?: string } {
  const window: { from?: string; to?: string } = {};
  if (query.from) window.from = `${query.from}T00:00:00.000Z`;
  if (query.to) {
    const end = new Date(`${query.to}T00:00:00.000Z`);
    end.setUTCDate(end.getUTCDate() + 1);
    window.to = end.toISOString();
  }
  return window;
}

export function historyHref(query: HistoryQuery, page: { cursor: string | null; trail: string[] }): string {
  const params = new URLSearchParams();
  for (const kind of query.kinds) params.append("kind", kind);
  if (query.from) params.set("from", query.from);
  if (query.to) params.set("to", query.to);
  if (query.order !== "desc") params.set("order", query.order);
  if (page.cursor) {
    params.set("cursor", page.cursor);
    if (page.trail.length > 0) params.set("trail", page.trail.join("."));
  }
  const search = params.toString();
  return search ? `/credits/history?${search}` : "/credits/history";
}

export function nextPage(query: HistoryQuery, nextCursor: string) {
  return { cursor: nextCursor, trail: query.cursor ? [...query.trail, query.cursor] : [] };
}

export function previousPage(query: HistoryQuery) {
  if (!query.cursor) return null;
  const trail = query.trail.slice(0, -1);
  return { cursor: query.trail.at(-1) ?? null, trail };
}

export const pageNumber = (query: HistoryQuery) => (query.cursor ? query.trail.length + 2 : 1);
