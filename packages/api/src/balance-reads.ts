import { TRPCError } from "@trpc/server";
import { getTRPCErrorFromUnknown } from "@trpc/server/unstable-core-do-not-import";
import { z } from "zod";
import type { Context } from "./context.ts";
import { balanceOutput, toBalance, uuid } from "./schemas.ts";
import { domainErrors, ownReadAccess, ownReaderOf, publicTrpcError, serviceAccessOf, serviceCallerOf } from "./trpc.ts";

// The balance-only reads (issue 17), the reads a product makes most: the tRPC procedures
// credits.balanceOfUser and credits.myBalance (the documented definitions, routers/credits.ts) and
// the server's lean REST route for the same two paths (apps/server/src/lean-reads.ts, ADR 022) run
// these same functions, so that both apply the same rules in the same order: authorization, input
// schema, the read, the output schema, the same errors.

export const BALANCE_READ_SCOPE = "credits:read";
export const BALANCE_READ_ACCESS = { orAdmin: true } as const;
export const balanceOfUserInput = z.strictObject({ userId: uuid });
type BalanceOutput = z.infer<typeof balanceOutput>;

export const balanceOfUser = async (ctx: Context, input: z.infer<typeof balanceOfUserInput>) =>
  toBalance(await ctx.services.credits.balanceView(input.userId));

export const myBalance = async (ownRead: ReturnType<typeof ownReaderOf>, ctx: Context) =>
  toBalance(await ownRead((sessionId) => ctx.services.credits.balanceOfSession(sessionId)));

// A procedure's whole call without tRPC's middleware chain, in the chain's order: access (the
// procedure's middleware), input (parsed after it, a 400 with the schema's fields), the read, and
// the output schema (a mismatch is an internal error, never an extra field sent). Errors come out as
// the procedure's would reach its caller: a TRPCError, domain errors mapped as domainErrors maps them.
export async function leanBalanceRead(
  ctx: Context,
  read: { kind: "me" } | { kind: "user"; rawInput: unknown },
): Promise<BalanceOutput> {
  try {
    let output: BalanceOutput;
    if (read.kind === "me") {
      output = await myBalance(ownReaderOf(ctx), ctx);
    } else {
      await serviceCallerOf(ctx, BALANCE_READ_SCOPE, BALANCE_READ_ACCESS);
      const input = balanceOfUserInput.safeParse(read.rawInput);
      if (!input.success) throw new TRPCError({ code: "BAD_REQUEST", cause: input.error });
      output = await balanceOfUser(ctx, input.data);
    }
    const checked = balanceOutput.safeParse(output);
    if (!checked.success) {
      throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "Output validation failed", cause: checked.error });
    }
    return checked.data;
  } catch (cause) {
    throw publicTrpcError(getTRPCErrorFromUnknown(cause));
  }
}

// The two procedures the lean route answers for, by their router path; their REST method and path
// come from their meta (apps/server/src/lean-reads.ts).
export const LEAN_BALANCE_PROCEDURES = { me: "credits.myBalance", user: "credits.balanceOfUser" } as const;

type ProcedureDef = { middlewares: unknown[]; meta?: { access?: unknown } };
const ACCESS = { me: "user", user: { scope: BALANCE_READ_SCOPE, ...BALANCE_READ_ACCESS } };

// Where a procedure's definition differs from what leanBalanceRead runs for it: its chain must be
// domainErrors, its access middleware (ownReadProcedure's, or serviceProcedure's with the same
// rule), input, output and the resolver, and its meta.access the rule above. Any new middleware or
// rule on these procedures shows here, so that the lean route cannot silently skip it.
export function leanBalanceProblems(kind: keyof typeof LEAN_BALANCE_PROCEDURES, def: ProcedureDef): string[] {
  const chain = def.middlewares as { _type?: string }[];
  const problems: string[] = [];
  if (chain.length !== 5) problems.push(`${chain.length} middlewares, not 5`);
  if (chain[0] !== domainErrors._middlewares[0]) problems.push("the first middleware is not domainErrors");
  const access = kind === "me" ? chain[1] === ownReadAccess._middlewares[0] : serviceAccessOf.get(chain[1] as object);
  if (kind === "me" ? !access : JSON.stringify(access) !== JSON.stringify(ACCESS.user)) {
    problems.push("the access middleware is not the one the lean route applies");
  }
  if (chain[2]?._type !== "input" || chain[3]?._type !== "output")
    problems.push("input and output are not 3rd and 4th");
  if (JSON.stringify(def.meta?.access) !== JSON.stringify(ACCESS[kind])) problems.push("meta.access differs");
  return problems.map((problem) => `${LEAN_BALANCE_PROCEDURES[kind]}: ${problem}`);
}
