// A pack on sale for the tests that buy it: created by `admin` over HTTP and, when its price waits
// for a second admin (below every pack on sale, or in a currency none is priced in: ADR 015),
// approved by another admin, as a real catalogue would be.
import { expect } from "vitest";
import type { RunningServer } from "../../src/main.ts";
import { call, type Reply } from "./helpers.ts";
import { createAdmin } from "./refunds-helpers.ts";

export async function packOnSale(
  server: RunningServer,
  admin: { cookie: string },
  body: Record<string, unknown>,
): Promise<Reply["body"]> {
  const created = await call(server.url, "POST", "/api/v1/admin/packages", { cookie: admin.cookie, body });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  if (!created.body.awaitingApproval) return created.body;
  const approver = await createAdmin(server);
  const approved = await call(server.url, "POST", `/api/v1/admin/packages/${created.body.id}/approve`, {
    cookie: approver.cookie,
  });
  expect(approved.status, JSON.stringify(approved.body)).toBe(200);
  return approved.body;
}
