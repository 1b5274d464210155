import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clientAddressResolver } from "../src/client-address.ts";

const ipv4 = fc.ipV4();

describe("the client address", () => {
  it("with n trusted hops, is the entry n places from the right, whatever the client wrote before it", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(ipv4, fc.ipV6(), fc.constantFrom("unknown", "", "evil")), { maxLength: 5 }),
        ipv4,
        fc.array(ipv4, { maxLength: 3 }),
        ipv4,
        (forged, client, proxies, socket) => {
          // The client's own header, then each proxy appends the address it saw; the last proxy is the socket.
          const chain = [...forged, client, ...proxies];
          const header = chain.join(", ");
          const resolve = clientAddressResolver(proxies.length + 1);
          expect(resolve(socket, header)).toBe(client);
        },
      ),
    );
  });

  it("with trusted CIDRs, skips trusted proxies from the right and stops at the first other address", () => {
    const resolve = clientAddressResolver(["10.0.0.0/8", "127.0.0.1"]);
    expect(resolve("127.0.0.1", "1.2.3.4, 203.0.113.9, 10.1.2.3")).toBe("203.0.113.9");
    // An untrusted socket: its own address, whatever the header says.
    expect(resolve("198.51.100.1", "203.0.113.9")).toBe("198.51.100.1");
  });

  it("without trust, is the socket address; without a header, too", () => {
    expect(clientAddressResolver(0)("198.51.100.1", "203.0.113.9")).toBe("198.51.100.1");
    expect(clientAddressResolver(1)("198.51.100.1", undefined)).toBe("198.51.100.1");
    // Fewer entries than trusted hops: the furthest one there is.
    expect(clientAddressResolver(3)("127.0.0.1", "203.0.113.9")).toBe("203.0.113.9");
    expect(clientAddressResolver(1)(undefined, "203.0.113.9")).toBe("unknown");
  });
});
