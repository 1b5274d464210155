import { MAX_NAME_LENGTH, PASSWORD_LENGTH } from "@credits/core";
import { z } from "zod";
import { consumeNoted, stateOfHit } from "../rate-limit-headers.ts";
import { email, text, toUser, userOutput } from "../schemas.ts";
import { authedProcedure, publicProcedure, router } from "../trpc.ts";

const credentials = z.strictObject({
  email,
  password: z.string().min(PASSWORD_LENGTH.min).max(PASSWORD_LENGTH.max),
});
const sessionOutput = z.object({ user: userOutput });
const sessionInfo = z.object({ id: z.string(), createdAt: z.iso.datetime(), expiresAt: z.iso.datetime() });

export const authRouter = router({
  signUp: publicProcedure
    .meta({
      errors: ["ALREADY_EXISTS", "RATE_LIMITED"],
      openapi: { method: "POST", path: "/auth/signup", tags: ["auth"], summary: "Create an account" },
    })
    .input(credentials.extend({ name: text({ max: MAX_NAME_LENGTH }).optional() }))
    .output(sessionOutput)
    .mutation(async ({ ctx, input }) => {
      await consumeNoted(ctx.rateLimits, "auth", () => ctx.services.authThrottle.signUp(ctx.clientAddress));
      const session = await ctx.services.auth.signUp(input);
      ctx.cookies.set(session.token, session.expiresAt);
      return { user: toUser(session.user) };
    }),

  logIn: publicProcedure
    .meta({
      errors: ["UNAUTHENTICATED", "RATE_LIMITED"],
      openapi: { method: "POST", path: "/auth/login", tags: ["auth"], summary: "Log in" },
    })
    .input(credentials.extend({ password: z.string().min(1).max(PASSWORD_LENGTH.max) }))
    .output(sessionOutput)
    .mutation(async ({ ctx, input }) => {
      // Per address against spraying; failures per (account, address) and per account against
      // guessing one password, without letting a guesser lock the owner out (core/auth/rate-limit.ts).
      const session = await ctx.services.authThrottle.logIn(
        input.email,
        ctx.clientAddress,
        () => ctx.services.auth.logIn(input),
        (hit) => ctx.rateLimits.note(stateOfHit("auth", hit)),
      );
      ctx.cookies.set(session.token, session.expiresAt);
      return { user: toUser(session.user) };
    }),

  logOut: publicProcedure
    .meta({ openapi: { method: "POST", path: "/auth/logout", tags: ["auth"], summary: "End this session" } })
    .input(z.void())
    .output(z.void())
    .mutation(async ({ ctx }) => {
      if (ctx.sessionToken) await ctx.services.auth.logOut(ctx.sessionToken);
      ctx.cookies.clear();
    }),

  logOutEverywhere: authedProcedure
    .meta({
      openapi: { method: "POST", path: "/auth/logout-everywhere", tags: ["auth"], summary: "End every session" },
    })
    .input(z.void())
    .output(z.void())
    .mutation(async ({ ctx }) => {
      await ctx.services.auth.logOutEverywhere(ctx.user.id);
      ctx.cookies.clear();
    }),

  me: authedProcedure
    .meta({ openapi: { method: "GET", path: "/me", tags: ["auth"], summary: "The signed-in user" } })
    .input(z.void())
    .output(userOutput)
    .query(({ ctx }) => toUser(ctx.user)),

  sessions: authedProcedure
    .meta({ openapi: { method: "GET", path: "/me/sessions", tags: ["auth"], summary: "Active sessions" } })
    .input(z.void())
    .output(z.object({ sessions: z.array(sessionInfo.extend({ current: z.boolean() })) }))
    .query(async ({ ctx }) => {
      const sessions = await ctx.services.auth.listSessions(ctx.user.id);
      return {
        sessions: sessions.map((s) => ({
          id: s.id,
          createdAt: s.createdAt.toISOString(),
          expiresAt: s.expiresAt.toISOString(),
          current: s.id === ctx.sessionId,
        })),
      };
    }),
});
