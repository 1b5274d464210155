// One HTTP request of a test through the real server, with a session cookie or an API key.
export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field
  body: any;
}

export interface CallOptions {
  body?: unknown;
  rawBody?: string;
  cookie?: string;
  key?: string;
  headers?: Record<string, string>;
}

// `strictJson`: the API answers JSON or nothing, so anything else fails the test; without it a
// page (the local checkout) stays text.
export async function call(
  base: string,
  method: string,
  path: string,
  options: CallOptions = {},
  { strictJson = false } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (options.body !== undefined || options.rawBody !== undefined) {
    headers["content-type"] = "application/json";
    body = options.rawBody ?? JSON.stringify(options.body);
  }
  if (options.cookie) headers.cookie = options.cookie;
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  Object.assign(headers, options.headers);
  const response = await fetch(`${base}${path}`, { method, headers, body, redirect: "manual" });
  const text = await response.text();
  if (text === "") return { status: response.status, headers: response.headers, body: null };
  if (strictJson) return { status: response.status, headers: response.headers, body: JSON.parse(text) };
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: kept as text.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}
