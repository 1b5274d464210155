import { z } from "zod";
import { packageOutput, toPackage } from "../schemas.ts";
import { publicProcedure, router } from "../trpc.ts";

export const packagesRouter = router({
  list: publicProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/packages",
        tags: ["packages"],
        summary: "Credit packs on sale, in display order",
      },
    })
    .input(z.void())
    .output(z.object({ packages: z.array(packageOutput) }))
    .query(async ({ ctx }) => ({ packages: (await ctx.services.catalog.listActive()).map(toPackage) })),
});
