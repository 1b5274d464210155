// The balance read with the work every API read owes and a bare server skips: the bearer
// credential hashed and found in a 5 s cache, as the API's (a miss takes any credential here where
// the API reads its keys table, once per 5 s per key), its scope checked, the input and the answer
// checked by schemas, the security headers and a request id, and the request counted in a
// labelled histogram. Not the API's code, the least that code has to do: the gap between this and
// the bare read is what those duties cost, the gap to the API what its layers add (issue 17).
import { hash, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Histogram } from "prom-client";
import { z } from "zod";

type Row = { balance: string | number; next_expiry: { at: string; amount: string | number } | null };

const CACHE_MS = 5_000;
const input = z.strictObject({ userId: z.uuid() });
const nextExpiry = z.object({ amount: z.number().int(), at: z.iso.datetime() }).nullable();
const output = z.object({ balance: z.number().int(), nextExpiry });
const duration = new Histogram({
  name: "bench_owed_work_seconds",
  help: "The owed-work read's duration",
  labelNames: ["method", "route", "status"],
});

export function owedWorkRead(statement: (userId: string) => Promise<readonly Row[]>) {
  const keys = new Map<string, { scopes: string[]; until: number }>();
  const credential = (header: string | undefined) => {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1];
    if (!token) return null;
    const digest = hash("sha256", token, "hex");
    const cached = keys.get(digest);
    if (cached && cached.until >= Date.now()) return cached;
    const key = { scopes: ["credits:read"], until: Date.now() + CACHE_MS };
    keys.set(digest, key);
    return key;
  };
  const answer = async (userId: string): Promise<[number, unknown]> => {
    try {
      const [row] = await statement(userId);
      if (!row) return [404, { error: { code: "NOT_FOUND" } }];
      const next = row.next_expiry;
      const nextAt = next ? new Date(next.at).toISOString() : null;
      const expiry = next && nextAt ? { amount: Number(next.amount), at: nextAt } : null;
      return [200, output.parse({ balance: Number(row.balance), nextExpiry: expiry })];
    } catch {
      return [500, { error: { code: "INTERNAL_SERVER_ERROR" } }];
    }
  };
  return async (req: IncomingMessage, res: ServerResponse, userId: string) => {
    const started = performance.now();
    const header = req.headers["x-request-id"];
    const requestId = typeof header === "string" && /^[\w.-]{1,100}$/.test(header) ? header : randomUUID();
    const key = credential(req.headers.authorization);
    const parsed = input.safeParse({ userId });
    let status = 200;
    let body: unknown;
    if (!key?.scopes.includes("credits:read")) [status, body] = [401, { error: { code: "UNAUTHORIZED" } }];
    else if (!parsed.success) [status, body] = [400, { error: { code: "INVALID_INPUT" } }];
    else [status, body] = await answer(parsed.data.userId);
    res.writeHead(status, {
      "Content-Type": "application/json",
      Vary: "Origin",
      "X-Content-Type-Options": "nosniff",
      "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
      "Cache-Control": "no-store",
      "X-Request-Id": requestId,
    });
    res.end(JSON.stringify(body));
    duration.observe(
      { method: "GET", route: "/balance-owed/{userId}", status: String(status) },
      (performance.now() - started) / 1000,
    );
  };
}
