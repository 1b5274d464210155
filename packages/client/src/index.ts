import type { AppRouter } from "@credits/api";
import { createTRPCClient, httpLink } from "@trpc/client";

export type { AppRouter, RouterInputs, RouterOutputs } from "@credits/api";

export interface CreditsClientOptions {
  // The server's base URL, e.g. http://localhost:3000.
  url: string;
  // An API key created by an admin or `pnpm cli api-keys:create`.
  apiKey: string;
  fetch?: typeof fetch;
}

// A typed client for internal tools: every procedure of the shared router, with its input and
// output types, e.g. `client.credits.spend.mutate({ userId, amount, idempotencyKey })`.
export function createCreditsClient({ url, apiKey, fetch: fetchImpl }: CreditsClientOptions) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url.replace(/\/$/, "")}/trpc`,
        headers: { authorization: `Bearer ${apiKey}` },
        ...(fetchImpl ? { fetch: fetchImpl } : {}),
      }),
    ],
  });
}

export type CreditsClient = ReturnType<typeof createCreditsClient>;
