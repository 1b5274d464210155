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

interface TrpcErrorShape {
  message?: string;
  code?: string;
  data?: {
    appCode?: string;
    fieldErrors?: Record<string, string[]>;
    formErrors?: string[];
    retryAfterSeconds?: number;
  };
}

// trpc-to-openapi answers errors in tRPC's shape; REST clients get ours, with the same status.
export async function toRestError(response: Response, requestId: string): Promise<Response> {
  if (response.status < 400) return response;
  const shape = (await response.json().catch(() => ({}))) as TrpcErrorShape;
  const fields = { ...(shape.data?.fieldErrors ?? {}) };
  if (shape.data?.formErrors?.length) fields._ = shape.data.formErrors;
  const retryAfter = shape.data?.retryAfterSeconds;
  return errorResponse(response.status, shape.data?.appCode ?? "INTERNAL", shape.message ?? "error", {
    ...(Object.keys(fields).length ? { fields } : {}),
    ...(response.status >= 500 ? { requestId } : {}),
    headers: retryAfter ? { "Retry-After": String(retryAfter) } : {},
  });
}
