import {
  findingKinds,
  MAX_PAGE_SIZE,
  type ReconciliationFinding,
  type ReconciliationRun,
  reconciliationRunStatuses,
  reconciliationTriggers,
} from "@credits/core";
import { z } from "zod";
import { cursor, reason, uuid } from "../schemas.ts";
import { adminProcedure, router } from "../trpc.ts";

const runOutput = z.object({
  id: z.uuid(),
  trigger: z.enum(reconciliationTriggers),
  scheduledFor: z.string().nullable(),
  windowStart: z.iso.datetime(),
  windowEnd: z.iso.datetime(),
  status: z.enum(reconciliationRunStatuses),
  stats: z.record(z.string(), z.unknown()).nullable(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().nullable(),
});
const toRun = (run: ReconciliationRun): z.infer<typeof runOutput> => ({
  ...run,
  stats: run.stats ? { ...run.stats } : null,
  windowStart: run.windowStart.toISOString(),
  windowEnd: run.windowEnd.toISOString(),
  startedAt: run.startedAt.toISOString(),
  finishedAt: run.finishedAt?.toISOString() ?? null,
});

const findingOutput = z.object({
  id: z.uuid(),
  // An open set (ADR 018): reconciliation learns new kinds of drift (paid_after_cancel).
  kind: z
    .enum(findingKinds)
    .describe("What the run found; new kinds may be added, so show one you do not know as it is")
    .meta({ "x-extensible-enum": true }),
  paymentId: z.uuid().nullable(),
  userId: z.uuid().nullable(),
  providerRef: z.string().nullable(),
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  healed: z.boolean(),
  createdAt: z.iso.datetime(),
});
const toFinding = (f: ReconciliationFinding): z.infer<typeof findingOutput> => ({
  id: f.id,
  kind: f.kind,
  paymentId: f.paymentId,
  userId: f.userId,
  providerRef: f.providerRef,
  detail: f.detail,
  healed: f.healed,
  createdAt: f.createdAt.toISOString(),
});

const acknowledgementOutput = z.object({
  userId: z.uuid(),
  seq: z.number().int(),
  delta: z
    .number()
    .int()
    .describe("The jump accepted at the row: its balance_after minus the previous row's minus its amount"),
  actorId: z.uuid(),
  reason: z.string(),
  createdAt: z.iso.datetime(),
  created: z
    .boolean()
    .describe("False when the row's break was already acknowledged (or sent): that acknowledgement is answered"),
  awaitingSecondAdmin: z
    .boolean()
    .describe(
      "True when the break moves more credits than one admin may accept (ADMIN_APPROVAL_THRESHOLD): this is the first admin's acknowledgement, and another admin (not the user) must acknowledge the break too before it is accepted; actorId is then the first admin",
    ),
});

const breakRequestOutput = z.object({
  userId: z.uuid(),
  seq: z.number().int(),
  delta: z.number().int(),
  requestedBy: z.uuid(),
  reason: z.string(),
  createdAt: z.iso.datetime(),
});

const page = { limit: z.number().int().min(1).max(MAX_PAGE_SIZE).optional(), cursor: cursor.optional() };
const pageOptions = (input: { limit?: number | undefined; cursor?: string | undefined }) => ({
  ...(input.limit !== undefined ? { limit: input.limit } : {}),
  ...(input.cursor ? { cursor: input.cursor } : {}),
});

export const reconciliationRouter = router({
  runs: adminProcedure
    .meta({
      openapi: { method: "GET", path: "/admin/reconciliation/runs", tags: ["reconciliation"], summary: "Runs" },
    })
    .input(z.strictObject(page))
    .output(z.object({ runs: z.array(runOutput), nextCursor: z.string().nullable() }))
    .query(async ({ ctx, input }) => {
      const { runs, nextCursor } = await ctx.services.reconciliation.listRuns(pageOptions(input));
      return { runs: runs.map(toRun), nextCursor };
    }),

  run: adminProcedure
    .meta({
      errors: ["NOT_FOUND"],
      openapi: {
        method: "GET",
        path: "/admin/reconciliation/runs/{id}",
        tags: ["reconciliation"],
        summary: "A run and its findings",
      },
    })
    .input(z.strictObject({ id: uuid, kind: z.enum(findingKinds).optional(), ...page }))
    .output(z.object({ run: runOutput, findings: z.array(findingOutput), nextCursor: z.string().nullable() }))
    .query(async ({ ctx, input }) => {
      const result = await ctx.services.reconciliation.getRun(input.id, {
        ...pageOptions(input),
        ...(input.kind ? { kind: input.kind } : {}),
      });
      return { run: toRun(result.run), findings: result.findings.map(toFinding), nextCursor: result.nextCursor };
    }),

  // "Run now": a manual reconciliation over the default window, audited.
  start: adminProcedure
    .meta({
      openapi: { method: "POST", path: "/admin/reconciliation/runs", tags: ["reconciliation"], summary: "Run now" },
    })
    .input(z.void())
    .output(runOutput)
    .mutation(async ({ ctx }) => {
      const run = await ctx.services.reconciliation.run({ trigger: "manual" });
      if (!run) throw new Error("a manual run is never claimed elsewhere");
      await ctx.services.admin.record({
        actorId: ctx.user.id,
        targetUserId: null,
        action: "reconciliation_run",
        amount: null,
        reason: `run ${run.id}: ${run.status}`,
        requestId: ctx.requestId,
        balanceBefore: null,
        balanceAfter: null,
        adjustmentRequestId: null,
      });
      return toRun(run);
    }),

  // An admin accepts a break of a user's balance_after chain (a ledger_invariant finding's
  // chainBrokenAtSeq), audited: the ledger checks stop reporting that jump at that row and still
  // report anything else. Repeating it answers the first acknowledgement (or, for its requester,
  // the second admin's). Beyond what one admin may accept alone (the approval threshold, with
  // what admins moved for the user alone in the window) a second admin must acknowledge it too
  // (awaitingSecondAdmin until then).
  acknowledgeBreak: adminProcedure
    .meta({
      errors: ["NOT_FOUND", "INVALID_STATE"],
      openapi: {
        method: "POST",
        path: "/admin/reconciliation/ledger-breaks",
        tags: ["reconciliation"],
        summary: "Acknowledge a break of a user's ledger chain",
      },
    })
    .input(z.strictObject({ userId: uuid, seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), reason }))
    .output(acknowledgementOutput)
    .mutation(async ({ ctx, input }) => {
      const { acknowledgement, created, awaitingSecondAdmin } = await ctx.services.reconciliation.acknowledgeBreak({
        actorId: ctx.user.id,
        userId: input.userId,
        seq: input.seq,
        reason: input.reason,
        requestId: ctx.requestId,
        via: "api",
      });
      return { ...acknowledgement, createdAt: acknowledgement.createdAt.toISOString(), created, awaitingSecondAdmin };
    }),

  // Breaks one admin acknowledged that wait for a second admin's acknowledgement, newest first.
  breakRequests: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/admin/reconciliation/ledger-breaks/pending",
        tags: ["reconciliation"],
        summary: "Ledger chain breaks awaiting a second admin",
      },
    })
    .input(z.void())
    .output(z.object({ requests: z.array(breakRequestOutput) }))
    .query(async ({ ctx }) => ({
      requests: (await ctx.services.reconciliation.pendingBreakRequests(MAX_PAGE_SIZE)).map((r) => ({
        ...r,
        createdAt: r.createdAt.toISOString(),
      })),
    })),
});
