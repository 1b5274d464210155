// Every redirect target that comes from input (the log-in and sign-up `redirectTo`) goes through
// here. The target is parsed as a browser parses a Location header (the WHATWG URL parser, against
// PUBLIC_URL) and the parsed form is what we send: browsers drop tabs and newlines, read `\` as `/`
// and resolve `/./` segments, so checking the raw text is not enough (`/\t/evil.example` is
// `//evil.example` to a browser). Only a path on our own origin comes out; anything else is the
// fallback.
const MAX_TARGET_LENGTH = 2_048;

export function safeRedirect(to: unknown, publicOrigin: string, fallback = "/credits"): string {
  if (typeof to !== "string" || to.length > MAX_TARGET_LENGTH || !to.startsWith("/")) return fallback;
  const origin = new URL(publicOrigin).origin;
  let url: URL;
  try {
    url = new URL(to, origin);
  } catch {
    return fallback;
  }
  if (url.origin !== origin) return fallback;
  // Serialized: ASCII only (the rest percent-encoded), so it is a valid header value.
  const path = `${url.pathname}${url.search}${url.hash}`;
  // A path that begins `//` (from `/.//host`) would name another host when the browser reads it.
  return path.startsWith("//") ? fallback : path;
}
