import { MAX_NAME_LENGTH, PASSWORD_LENGTH } from "@credits/core";
import { z } from "zod";
import { email, text, toUser, userOutput } from "../schemas.ts";
import { publicProcedure, router } from "../trpc.ts";

// The first admin, from the browser (the web app's /setup page). Not part of the REST API: it is
// used once per installation, by a person holding the token the server printed at start.
export const setupRouter = router({
  status: publicProcedure
    .input(z.void())
    .output(z.object({ open: z.boolean() }))
    .query(async ({ ctx }) => ({ open: await ctx.services.firstAdmin.isOpen() })),

  createFirstAdmin: publicProcedure
    .input(
      z.strictObject({
        token: z.string().max(100),
        email,
        password: z.string().min(PASSWORD_LENGTH.min).max(PASSWORD_LENGTH.max),
        name: text({ max: MAX_NAME_LENGTH }).optional(),
      }),
    )
    .output(z.object({ user: userOutput }))
    .mutation(async ({ ctx, input }) => {
      // The same per-address budget as log-in and sign-up.
      await ctx.services.authThrottle.signUp(ctx.clientAddress);
      const session = await ctx.services.firstAdmin.createFirstAdmin(input);
      ctx.cookies.set(session.token, session.expiresAt);
      return { user: toUser(session.user) };
    }),
});
