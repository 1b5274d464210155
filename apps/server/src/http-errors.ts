import { redactText } from "@credits/observability";

// The REST error body, { error: { code, message } }, built in one place for every non-tRPC path.
export interface ErrorBody {
  error: { code: string; message: string; fields?: Record<string, string[]>; requestId?: string };
}

export function errorResponse(
  status: number,
  code: string,
  message: string,
  extra: { fields?: Record<string, string[]>; requestId?: string; headers?: Record<string, string> } = {},
): Response {
  const body: ErrorBody = {
    error: {
      code,
      // Redacted like the logs: a message echoing a path or input never hands a secret back.
      message: redactText(message),
      ...(extra.fields ? { fields: extra.fields } : {}),
      ...(extra.requestId ? { requestId: extra.requestId } : {}),
    },
  };
  return Response.json(body, { status, headers: extra.headers ?? {} });
}
