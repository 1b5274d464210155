import type { SessionCookies } from "./context.ts";

// The session cookie, shared by the HTTP server and the Remix app (both read and set it).
// Lucia's guide: HttpOnly, SameSite=Lax, Secure, and the __Host- prefix in production (which
// pins the cookie to this host and path). Browsers treat http://localhost as secure, so Secure
// holds in development too.
export function sessionCookieName(production: boolean): string {
  return production ? "__Host-session" : "session";
}

export function readCookie(header: string | null | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=") || null;
  }
  return null;
}

// Collects the session cookie changes of one request, to be sent as Set-Cookie headers.
export function sessionCookieJar(name: string): SessionCookies & { headers(): string[] } {
  let pending: string | null = null;
  const attributes = "Path=/; HttpOnly; Secure; SameSite=Lax";
  return {
    set(token, expiresAt) {
      pending = `${name}=${token}; ${attributes}; Expires=${expiresAt.toUTCString()}`;
    },
    clear() {
      pending = `${name}=; ${attributes}; Max-Age=0`;
    },
    headers: () => (pending ? [pending] : []),
  };
}
