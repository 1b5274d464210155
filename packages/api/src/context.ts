import type { ApiKeyPrincipal, ApiKeyScope, PublicUser } from "@credits/core";
import { type RateLimitJar, rateLimitJar } from "./rate-limit-headers.ts";
import type { Services } from "./services.ts";

export type { ApiKeyScope };

// The response side of a session: the server turns these calls into Set-Cookie headers.
export interface SessionCookies {
  set(token: string, expiresAt: Date): void;
  clear(): void;
}

export interface Context {
  services: Services;
  requestId: string;
  clientAddress: string;
  sessionToken: string | null;
  auth: {
    hasApiKey: boolean;
    // Resolved on first use and remembered for the request: a public procedure costs no lookup.
    session(): Promise<{ user: PublicUser; sessionId: string } | null>;
    apiKey(): Promise<ApiKeyPrincipal | null>;
  };
  cookies: SessionCookies;
  // The response side of rate limits: the server sends them as RateLimit headers.
  rateLimits: RateLimitJar;
}

export interface ContextInput {
  services: Services;
  requestId: string;
  clientAddress: string;
  sessionToken: string | null;
  apiKey: string | null;
  cookies: SessionCookies;
  // Absent where no HTTP response carries them (Remix loaders, tests).
  rateLimits?: RateLimitJar;
}

// The inner context: built the same way by the HTTP server, by Remix loaders and by tests.
export function createContext(input: ContextInput): Context {
  const { services, sessionToken, apiKey, cookies } = input;
  return {
    services,
    requestId: input.requestId,
    clientAddress: input.clientAddress,
    sessionToken,
    cookies,
    rateLimits: input.rateLimits ?? rateLimitJar(),
    auth: {
      hasApiKey: apiKey !== null,
      session: once(async () => {
        if (!sessionToken) return null;
        const valid = await services.auth.validateSession(sessionToken);
        if (!valid) {
          cookies.clear();
          return null;
        }
        if (valid.refreshed) cookies.set(sessionToken, valid.session.expiresAt);
        return { user: valid.user, sessionId: valid.session.id };
      }),
      apiKey: once(() => (apiKey ? services.apiKeys.authenticate(apiKey) : Promise.resolve(null))),
    },
  };
}

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= load();
    return result;
  };
}
