// What a failed procedure call means for a page. Read by shape (code, cause) rather than by
// class, so nothing depends on which copy of @trpc/server threw.

export interface CallError {
  // The tRPC code, e.g. PAYMENT_REQUIRED, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, BAD_REQUEST.
  code: string;
  // The domain error's code when there is one, e.g. ALREADY_EXISTS, RATE_LIMITED.
  domainCode: string | null;
  message: string;
  // Input validation: the first message per field.
  fields: Record<string, string>;
  retryAfterSeconds: number | null;
}

export function callError(error: unknown): CallError | null {
  if (!(error instanceof Error) || !("code" in error) || typeof error.code !== "string") return null;
  if (error.name !== "TRPCError") return null;
  const cause = (error as { cause?: unknown }).cause as
    | { code?: unknown; issues?: unknown; retryAfterSeconds?: unknown }
    | undefined;
  const fields: Record<string, string> = {};
  if (cause && Array.isArray(cause.issues)) {
    for (const issue of cause.issues as { path?: unknown[]; message?: string }[]) {
      const field = String(issue.path?.[0] ?? "");
      if (field && !fields[field] && issue.message) fields[field] = issue.message;
    }
  }
  return {
    code: error.code,
    domainCode: typeof cause?.code === "string" ? cause.code : null,
    message: error.message,
    fields,
    retryAfterSeconds: typeof cause?.retryAfterSeconds === "number" ? cause.retryAfterSeconds : null,
  };
}

export function isCode(error: unknown, ...codes: string[]): boolean {
  const parsed = callError(error);
  return parsed !== null && codes.includes(parsed.code);
}
