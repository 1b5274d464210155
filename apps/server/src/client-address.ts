import proxyAddr from "proxy-addr";

// TRUST_PROXY, parsed: how many proxies stand in front of the server (0: none), or which
// addresses / CIDRs are trusted proxies.
export type TrustProxy = number | string[];

export type ClientAddressOf = (socketAddress: string | undefined, forwardedFor: string | undefined) => string;

// The client's address, as Express finds it (proxy-addr): walking X-Forwarded-For from the right,
// past the socket's peer and each entry that a trusted proxy wrote, to the first one it did not.
// The leftmost entries are whatever the client sent, so they are believed only when every hop
// after them is trusted; with no trust, the socket's address alone.
export function clientAddressResolver(trust: TrustProxy): ClientAddressOf {
  const trusted = typeof trust === "number" ? (_address: string, hop: number) => hop < trust : proxyAddr.compile(trust);
  return (socketAddress, forwardedFor) => {
    if (!socketAddress) return "unknown";
    if (trust === 0 || !forwardedFor) return socketAddress;
    const request = { socket: { remoteAddress: socketAddress }, headers: { "x-forwarded-for": forwardedFor } };
    // proxy-addr reads only these two fields of a Node request.
    return proxyAddr(request as unknown as Parameters<typeof proxyAddr>[0], trusted) || socketAddress;
  };
}
