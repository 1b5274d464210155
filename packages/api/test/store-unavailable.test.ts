import { StoreUnavailableError } from "@credits/core";
import { describe, expect, it } from "vitest";
import { createCaller, createContext, type Services } from "../src/index.ts";

// The router learns that the database is down from the core's error type (stores throw it), so
// it never imports the database package: a 503 the client may retry, not a 500.

function callerWhoseCatalogFails(error: unknown) {
  const services = {
    catalog: { listActive: () => Promise.reject(error) },
  } as unknown as Services;
  return createCaller(
    createContext({
      services,
      requestId: "req-test",
      clientAddress: "127.0.0.1",
      sessionToken: null,
      apiKey: null,
      cookies: { set() {}, clear() {} },
    }),
  );
}

describe("a store that cannot reach the database", () => {
  it("is SERVICE_UNAVAILABLE, also under a wrapper that keeps it as its cause", async () => {
    const down = new StoreUnavailableError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    for (const error of [down, new Error("listing failed", { cause: down })]) {
      await expect(callerWhoseCatalogFails(error).packages.list()).rejects.toMatchObject({
        code: "SERVICE_UNAVAILABLE",
        message: "the service is briefly unavailable, try again shortly",
      });
    }
  });

  it("leaves any other failure an internal error", async () => {
    await expect(callerWhoseCatalogFails(new Error("boom")).packages.list()).rejects.toMatchObject({
      code: "INTERNAL_SERVER_ERROR",
    });
  });
});
