import type { Account } from "@credits/core";
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
// the same four paths (apps/server/src/lean-reads.ts, ADR 022) run the same access rules, schemas
// and resolvers (the lean route calls the procedure's own), so that both apply the same rules in the
// same order: authorization, input schema, the read, the output schema, the same errors.

// The credits:read scope of the two service reads (balanceOfUser, ofUser), admins' sessions also.

export const CREDITS_READ_SCOPE = "credits:read";
export const CREDITS_READ_ACCESS = { orAdmin: true } as const;
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

function toCredits(account: Account) {
  return {
    balance: account.balance,
    ...toGrants(account),
    transactions: account.transactions.map(toTransaction),
    nextCursor: account.nextCursor,
  };
}

// The four procedures the lean route answers for, keyed by their names in the credits router: their
// router path, whether it is an own read (ownReadProcedure's access) or a service read
// (serviceProcedure with CREDITS_READ_SCOPE), the input and output schemas the lean route parses with
// (the procedures' own: checked at start-up below), and the raw input the REST adapter builds from a
// path without a query string (rawInput: none for a z.void() input). The resolver is the procedure's own
// (its _def.resolver), and its REST method and path its meta (apps/server/src/lean-reads.ts).
export const LEAN_READ_PROCEDURES = {
  myBalance: {
    path: "credits.myBalance",
    own: true,
    input: myBalanceInput,
    output: balanceOutput,
    rawInput: () => undefined,
  },
  balanceOfUser: {
    path: "credits.balanceOfUser",
    own: false,
    input: balanceOfUserInput,
    output: balanceOutput,
    rawInput: (userId: string) => ({ userId }),
  },
  mine: { path: "credits.mine", own: true, input: historyQuery, output: historyOutput, rawInput: () => ({}) },
  ofUser: {
    path: "credits.ofUser",
    own: false,
    input: creditsOfUserInput,
    output: historyOutput,
    rawInput: (userId: string) => ({ userId }),
  },
} as const;
type Procedures = typeof LEAN_READ_PROCEDURES;
export type LeanKind = keyof Procedures;
type OwnKind = { [K in LeanKind]: Procedures[K]["own"] extends true ? K : never }[LeanKind];
export type LeanRead = { kind: OwnKind } | { kind: Exclude<LeanKind, OwnKind>; userId: string };

export const rawInputOf = (read: LeanRead): unknown =>
  (LEAN_READ_PROCEDURES[read.kind].rawInput as (userId?: string) => unknown)(
    "userId" in read ? read.userId : undefined,
  );

// What tRPC passes a resolver that these resolvers may read.
type Resolver = (opts: { ctx: unknown; input: unknown; type: "query"; path: string; meta: unknown }) => unknown;
export type LeanProcedureDef = {
  type?: unknown;
  middlewares: unknown[];
  inputs?: unknown[];
  output?: unknown;
  meta?: { access?: unknown };
  resolver?: unknown;
};

// A procedure's whole call without tRPC's middleware chain, in the chain's order: access (the
// procedure's middleware, whose context the resolver gets), input (parsed after it, a 400 with the
// schema's fields), the procedure's own resolver (def.resolver, so a rule inside it applies here
// too), and the output schema (a mismatch is an internal error, never an extra field sent). Errors
// come out as the procedure's would reach its caller: a TRPCError, domain errors mapped as
// domainErrors maps them. `def` is the procedure's definition that leanReadProblems passed.
export async function leanRead(ctx: Context, def: LeanProcedureDef, read: LeanRead): Promise<unknown> {
  const { path, own, input: inputSchema, output } = LEAN_READ_PROCEDURES[read.kind];
  try {
    const access = own
      ? { ownRead: ownReaderOf(ctx) }
      : { caller: await serviceCallerOf(ctx, CREDITS_READ_SCOPE, CREDITS_READ_ACCESS) };
    const input = inputSchema.safeParse(rawInputOf(read));
    if (!input.success) throw new TRPCError({ code: "BAD_REQUEST", cause: input.error });
    const resolver = def.resolver as Resolver;
    // As tRPC's next({ ctx }) merges the access middleware's context into the request's.
    const data = await resolver({ ctx: { ...ctx, ...access }, input: input.data, type: "query", path, meta: def.meta });
    const checked = output.safeParse(data);
    if (!checked.success) {
      throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "Output validation failed", cause: checked.error });
    }
    return checked.data;
  } catch (cause) {
    throw publicTrpcError(getTRPCErrorFromUnknown(cause));
  }
}

const SERVICE_ACCESS = { scope: CREDITS_READ_SCOPE, ...CREDITS_READ_ACCESS };

// Where a procedure's definition differs from what leanRead runs for it: it must be a query with a
// resolver (which leanRead calls: whatever it does, both routes do); its chain exactly domainErrors,
// its access middleware (ownReadProcedure's, or serviceProcedure's with the same scope and rule, by
// identity), input, output and the resolver's; its input and output schemas, by identity, the ones
// above; its meta.access the rule above. Any new middleware or rule on these procedures shows here,
// so that the lean route cannot silently skip it.
export function leanReadProblems(kind: LeanKind, def: LeanProcedureDef): string[] {
  const chain = def.middlewares as { _type?: string }[];
  const { own, input, output } = LEAN_READ_PROCEDURES[kind];
  const problems: string[] = [];
  if (def.type !== "query" || typeof def.resolver !== "function") problems.push("not a query with a resolver");
  if (chain.length !== 5) problems.push(`${chain.length} middlewares, not 5`);
  if (chain[0] !== domainErrors._middlewares[0]) problems.push("the first middleware is not domainErrors");
  const access = own ? chain[1] === ownReadAccess._middlewares[0] : serviceAccessOf.get(chain[1] as object);
  if (own ? !access : JSON.stringify(access) !== JSON.stringify(SERVICE_ACCESS)) {
    problems.push("the access middleware is not the one the lean route applies");
  }
  if (chain[2]?._type !== "input" || chain[3]?._type !== "output")
    problems.push("input and output are not 3rd and 4th");
  if (def.inputs?.length !== 1 || def.inputs[0] !== input || def.output !== output) {
    problems.push("its input or output schema is not the one the lean route parses with");
  }
  if (JSON.stringify(def.meta?.access) !== JSON.stringify(own ? "user" : SERVICE_ACCESS))
    problems.push("meta.access differs");
  return problems.map((problem) => `${LEAN_READ_PROCEDURES[kind].path}: ${problem}`);
}
