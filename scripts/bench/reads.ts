import type { Request } from "autocannon";

// The read scenarios (issue 17): the API's balance-and-history and balance-only reads, by API key
// and by session, and the bare server's same reads (bare-server.ts), all on the same user (the bench
// reader, with a history to page through), at 64 connections.
export const READ_CONNECTIONS = 64;

type Headers = Record<string, string>;
// The owed-work read's credential (owed-work.ts hashes it and keeps it 5 s, as the API its keys).
const OWED_WORK_TOKEN = "ck_bench_owed_work_0123456789abcdef";
const get =
  (path: string, headers: Headers) =>
  (req: Request): Request => ({ ...req, method: "GET", path, headers });

export function apiReads(userId: string, byKey: Headers, bySession: Headers) {
  return [
    { scenario: "users/{id}/credits", setupRequest: get(`/api/v1/users/${userId}/credits`, byKey) },
    { scenario: "me/credits", setupRequest: get("/api/v1/me/credits", bySession) },
    { scenario: "users/{id}/balance", setupRequest: get(`/api/v1/users/${userId}/balance`, byKey) },
    { scenario: "me/balance", setupRequest: get("/api/v1/me/balance", bySession) },
  ];
}

export function bareReads(userId: string) {
  return [
    { scenario: "read credits", setupRequest: get(`/credits/${userId}`, {}) },
    { scenario: "read balance", setupRequest: get(`/balance/${userId}`, {}) },
    {
      scenario: "read balance + owed work",
      setupRequest: get(`/balance-owed/${userId}`, { authorization: `Bearer ${OWED_WORK_TOKEN}` }),
    },
  ];
}

// API scenario, the bare scenario it is measured against, and the target ratio (issue 17: every
// read ≥ 0.7 × the bare server doing the same read; a balance-only read at least as fast as the
// full read).
export const READ_TARGET = 0.7;
export const READ_RATIOS = [
  { api: "users/{id}/credits", bare: "read credits", target: READ_TARGET },
  { api: "me/credits", bare: "read credits", target: READ_TARGET },
  { api: "users/{id}/balance", bare: "read credits", target: 1 },
  { api: "me/balance", bare: "read credits", target: 1 },
  { api: "users/{id}/balance", bare: "read balance", target: READ_TARGET },
  { api: "me/balance", bare: "read balance", target: READ_TARGET },
  // No target: how far the API is from a bare server doing the work every read owes (owed-work.ts).
  { api: "users/{id}/balance", bare: "read balance + owed work", target: null },
  { api: "me/balance", bare: "read balance + owed work", target: null },
] as const;
