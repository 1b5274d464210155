import type { GrantsView, History } from "@credits/core";
import { TRPCError } from "@trpc/server";
import { getTRPCErrorFromUnknown } from "@trpc/server/unstable-core-do-not-import";
import { z } from "zod";
import type { Context } from "./context.ts";
import {
  balanceOutput,
  historyOptions,
  historyOutput,
  historyQuery,
  toBalance,
  toGrants,
  toTransaction,
  uuid,
} from "./schemas.ts";
import { domainErrors, ownReadAccess, ownReaderOf, publicTrpcError, serviceAccessOf, serviceCallerOf } from "./trpc.ts";

// The reads a product makes most (issue 17): the balance-only reads (credits.balanceOfUser,
// credits.myBalance) and the balance-and-history reads (credits.ofUser, credits.mine). The tRPC
// procedures (the documented definitions, routers/credits.ts) and the server's lean REST route for
// the same four paths (apps/server/src/lean-reads.ts, ADR 022) run these same functions, so that
// both apply the same rules in the same order: authorization, input schema, the read, the output
// schema, the same errors.

export const BALANCE_READ_SCOPE = "credits:read";
export const BALANCE_READ_ACCESS = { orAdmin: true } as const;
export const balanceOfUserInput = z.strictObject({ userId: uuid });
export const myBalanceInput = z.void();
export const creditsOfUserInput = historyQuery.extend({ userId: uuid });
type Own = ReturnType<typeof ownReaderOf>;

export const balanceOfUser = async (ctx: Context, input: z.infer<typeof balanceOfUserInput>) =>
  toBalance(await ctx.services.credits.balanceView(input.userId));

export const myBalance = async (ownRead: Own, ctx: Context) =>
  toBalance(await ownRead((sessionId) => ctx.services.credits.balanceOfSession(sessionId)));

// The balance, the live grants (spending order) and the next expiry, and a page of history: one
// statement (issue 17: this was four, and the session lookup a fifth).
export const creditsOfUser = async (ctx: Context, { userId, ...query }: z.infer<typeof creditsOfUserInput>) =>
  toCredits(await ctx.services.credits.account(userId, historyOptions(query)));

export const myCredits = async (ownRead: Own, ctx: Context, input: z.infer<typeof historyQuery>) =>
  toCredits(await ownRead((sessionId) => ctx.services.credits.accountOfSession(sessionId, historyOptions(input))));

function toCredits(account: History & GrantsView) {
  return {
    balance: account.balance,
    ...toGrants(account),
    transactions: account.transactions.map(toTransaction),
    nextCursor: account.nextCursor,
  };
}

// The four procedures the lean route answers for, by their router path; their REST method and path
// come from their meta (apps/server/src/lean-reads.ts). "me" kinds are ownReadProcedure's, the
// others serviceProcedure's with BALANCE_READ_SCOPE.
export const LEAN_BALANCE_PROCEDURES = {
  me: "credits.myBalance",
  user: "credits.balanceOfUser",
  myCredits: "credits.mine",
  userCredits: "credits.ofUser",
} as const;
export type LeanKind = keyof typeof LEAN_BALANCE_PROCEDURES;
export const isOwnRead = (kind: LeanKind) => kind === "me" || kind === "myCredits";

// The input and output schemas the lean route parses with: the procedures' own (checked at start-up
// below). A z.void() input takes no raw input.
const SCHEMAS = {
  me: { input: myBalanceInput, output: balanceOutput },
  user: { input: balanceOfUserInput, output: balanceOutput },
  myCredits: { input: historyQuery, output: historyOutput },
  userCredits: { input: creditsOfUserInput, output: historyOutput },
} as const;

// The resolver of each procedure, as routers/credits.ts calls it.
function resolve(ctx: Context, kind: LeanKind, input: unknown, own: Own | undefined) {
  if (isOwnRead(kind)) {
    if (!own) throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "own read without its access rule" });
    return kind === "me" ? myBalance(own, ctx) : myCredits(own, ctx, input as z.infer<typeof historyQuery>);
  }
  return kind === "user"
    ? balanceOfUser(ctx, input as z.infer<typeof balanceOfUserInput>)
    : creditsOfUser(ctx, input as z.infer<typeof creditsOfUserInput>);
}

// A procedure's whole call without tRPC's middleware chain, in the chain's order: access (the
// procedure's middleware), input (parsed after it, a 400 with the schema's fields), the read, and
// the output schema (a mismatch is an internal error, never an extra field sent). Errors come out as
// the procedure's would reach its caller: a TRPCError, domain errors mapped as domainErrors maps them.
export async function leanBalanceRead(ctx: Context, kind: LeanKind, rawInput: unknown): Promise<unknown> {
  try {
    const own = isOwnRead(kind) ? ownReaderOf(ctx) : undefined;
    if (!own) await serviceCallerOf(ctx, BALANCE_READ_SCOPE, BALANCE_READ_ACCESS);
    const input = SCHEMAS[kind].input.safeParse(rawInput);
    if (!input.success) throw new TRPCError({ code: "BAD_REQUEST", cause: input.error });
    const checked = SCHEMAS[kind].output.safeParse(await resolve(ctx, kind, input.data, own));
    if (!checked.success) {
      throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "Output validation failed", cause: checked.error });
    }
    return checked.data;
  } catch (cause) {
    throw publicTrpcError(getTRPCErrorFromUnknown(cause));
  }
}

type ProcedureDef = { middlewares: unknown[]; inputs?: unknown[]; output?: unknown; meta?: { access?: unknown } };
const SERVICE_ACCESS = { scope: BALANCE_READ_SCOPE, ...BALANCE_READ_ACCESS };

// Where a procedure's definition differs from what leanBalanceRead runs for it: its chain must be
// domainErrors, its access middleware (ownReadProcedure's, or serviceProcedure's with the same
// rule), input, output and the resolver; its input and output schemas the ones above; its
// meta.access the rule above. Any new middleware or rule on these procedures shows here, so that the
// lean route cannot silently skip it.
export function leanBalanceProblems(kind: LeanKind, def: ProcedureDef): string[] {
  const chain = def.middlewares as { _type?: string }[];
  const own = isOwnRead(kind);
  const problems: string[] = [];
  if (chain.length !== 5) problems.push(`${chain.length} middlewares, not 5`);
  if (chain[0] !== domainErrors._middlewares[0]) problems.push("the first middleware is not domainErrors");
  const access = own ? chain[1] === ownReadAccess._middlewares[0] : serviceAccessOf.get(chain[1] as object);
  if (own ? !access : JSON.stringify(access) !== JSON.stringify(SERVICE_ACCESS)) {
    problems.push("the access middleware is not the one the lean route applies");
  }
  if (chain[2]?._type !== "input" || chain[3]?._type !== "output")
    problems.push("input and output are not 3rd and 4th");
  if (def.inputs?.length !== 1 || def.inputs[0] !== SCHEMAS[kind].input || def.output !== SCHEMAS[kind].output) {
    problems.push("its input or output schema is not the one the lean route parses with");
  }
  if (JSON.stringify(def.meta?.access) !== JSON.stringify(own ? "user" : SERVICE_ACCESS))
    problems.push("meta.access differs");
  return problems.map((problem) => `${LEAN_BALANCE_PROCEDURES[kind]}: ${problem}`);
}
