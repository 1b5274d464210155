import ipaddr from "ipaddr.js";
import { InvalidInputError } from "../errors.ts";
import { MAX_WEBHOOK_URL_LENGTH } from "../limits.ts";
import { textProblem } from "../validate.ts";

// Resolves a host name to its addresses (all of them: one private answer is enough to refuse).
export type ResolveHost = (host: string) => Promise<string[]>;

// Where a delivery may go: an address outside every special-purpose range. ipaddr.js names the
// ranges (RFC 6890 and successors); only "unicast" is the public internet. This refuses loopback,
// private (10/8, 172.16/12, 192.168/16), link-local (169.254/16, the cloud metadata address
// 169.254.169.254 among them; fe80::/10), 0.0.0.0/8, carrier-grade NAT (100.64/10, where Alibaba's
// metadata service lives), unique-local (fc00::/7, AWS's fd00:ec2::254), multicast, reserved,
// documentation and benchmarking ranges, NAT64/6to4/Teredo. An IPv4-mapped IPv6 address
// (::ffff:127.0.0.1) is judged as the IPv4 address it carries.
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === "unicast";
}

export interface EndpointTarget {
  url: URL;
  // The host without IPv6 brackets; `literal` when it is an IP address itself.
  host: string;
  literal: boolean;
}

// The URL's shape, without the network: https (http only where private addresses are allowed,
// for development and tests), no credentials, no fragment, bounded, no control characters. The
// WHATWG parser already turned decimal, octal and hex IPv4 forms (http://2130706433,
// http://0177.0.0.1) into dotted quads, so the address check sees what a client would use.
export function parseEndpointUrl(raw: string, { allowPrivate }: { allowPrivate: boolean }): EndpointTarget {
  const problem = textProblem(raw, { maxLength: MAX_WEBHOOK_URL_LENGTH });
  if (problem) throw new InvalidInputError(`url ${problem}`);
  if (/\s/.test(raw)) throw new InvalidInputError("url must not contain spaces");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidInputError("url must be an absolute URL");
  }
  const schemes = allowPrivate ? ["https:", "http:"] : ["https:"];
  if (!schemes.includes(url.protocol)) {
    throw new InvalidInputError(allowPrivate ? "url must be http or https" : "url must be https");
  }
  if (url.username || url.password) throw new InvalidInputError("url must not carry credentials");
  if (url.hash) throw new InvalidInputError("url must not have a fragment");
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new InvalidInputError("url must name a host");
  return { url, host, literal: ipaddr.isValid(host) };
}

// The address to connect to: the literal itself, or the host resolved now. Every answer must be
// public (unless allowed): a name with one private answer could be steered to it. The caller
// connects to exactly the returned address, so a second lookup (DNS rebinding) cannot change it.
export async function resolveTarget(
  target: EndpointTarget,
  { allowPrivate, resolve }: { allowPrivate: boolean; resolve: ResolveHost },
): Promise<string> {
  const addresses = target.literal ? [target.host] : await resolve(target.host).catch(() => []);
  const [first] = addresses;
  if (first === undefined) throw new InvalidInputError(`url host ${target.host} does not resolve`);
  if (!allowPrivate && !addresses.every(isPublicAddress)) {
    throw new InvalidInputError("url resolves to a private, loopback, link-local or reserved address");
  }
  return first;
}
