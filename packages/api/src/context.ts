import type { ApiKeyPrincipal, ApiKeyScope, FoundSession, PublicUser, ValidSession } from "@credits/core";
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
    // The session found by a read that brings it and its user along (one statement for both,
    // issue 17), then validated as session() validates; the read only with a valid session.
    sessionWith<T extends FoundSession>(find: (sessionId: string) => Promise<T | null>): Promise<T | null>;
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
  // The session, resolved on first use (by session() or sessionWith()) and remembered.
  let session: Promise<{ user: PublicUser; sessionId: string } | null> | undefined;
  const settle = async (validation: Promise<ValidSession | null>) => {
    const valid = await validation;
    if (!valid) {
      cookies.clear();
      return null;
    }
    if (valid.refreshed) cookies.set(sessionToken as string, valid.session.expiresAt);
    return { user: valid.user, sessionId: valid.session.id };
  };
  return {
    services,
    requestId: input.requestId,
    clientAddress: input.clientAddress,
    sessionToken,
    cookies,
    rateLimits: input.rateLimits ?? rateLimitJar(),
    auth: {
      hasApiKey: apiKey !== null,
      session: () => {
        session ??= sessionToken ? settle(services.auth.validateSession(sessionToken)) : Promise.resolve(null);
        return session;
      },
      sessionWith: async (find) => {
        if (!sessionToken) return null;
        if (session) {
          // Already resolved for this request: validated (and its cookie sent) once is enough.
          if (!(await session)) return null;
          return (await services.auth.validateSessionWith(sessionToken, find))?.found ?? null;
        }
        const validation = services.auth.validateSessionWith(sessionToken, find);
        session = settle(validation.then((result) => result?.valid ?? null));
        await session;
        return (await validation)?.found ?? null;
      },
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
