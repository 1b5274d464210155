import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { startTestServer } from "@credits/server/testing";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const server = await startTestServer();
const { services } = server;
// Keys answer to the admin who made them.
const owner = await services.auth.createUser({
  email: `tool-admin-${randomUUID()}@example.test`,
  password: "password123",
  role: "admin",
});

describe("the typed client example", () => {
  it("reads and spends through a live server, once per key", async () => {
    const { user } = await services.auth.signUp({
      email: `tool-${randomUUID()}@example.test`,
      password: "password123",
    });
    await services.credits.grant({
      scope: { kind: "user", id: "test" },
      userId: user.id,
      amount: 5,
      idempotencyKey: randomUUID(),
    });
    const { key } = await services.apiKeys.create({
      name: "example",
      scopes: ["credits:read", "credits:spend"],
      ownerUserId: owner.id,
    });
    const args = ["scripts/src/example-client.ts", "--url", server.url, "--api-key", key, "--user-id", user.id];
    const idempotencyKey = randomUUID();

    const first = await run(process.execPath, [...args, "--key", idempotencyKey]);
    expect(first.stdout).toContain("balance before: 5");
    expect(first.stdout).toMatch(/balance now 4\n/);
    const again = await run(process.execPath, [...args, "--key", idempotencyKey]);
    expect(again.stdout).toContain("balance before: 4");
    expect(again.stdout).toMatch(/balance now 4\n/);
    expect(await services.credits.balance(user.id)).toBe(4);
  });

  it("fails clearly, spending nothing, with a key that lacks the scope", async () => {
    const { user } = await services.auth.signUp({
      email: `tool-${randomUUID()}@example.test`,
      password: "password123",
    });
    await services.credits.grant({
      scope: { kind: "user", id: "test" },
      userId: user.id,
      amount: 5,
      idempotencyKey: randomUUID(),
    });
    const { key } = await services.apiKeys.create({
      name: "read-only",
      scopes: ["credits:read"],
      ownerUserId: owner.id,
    });
    const failing = run(process.execPath, [
      "scripts/src/example-client.ts",
      "--url",
      server.url,
      "--api-key",
      key,
      "--user-id",
      user.id,
    ]);
    await expect(failing).rejects.toMatchObject({ stderr: expect.stringContaining("lacks the credits:spend scope") });
    expect(await services.credits.balance(user.id)).toBe(5);
  });
});
