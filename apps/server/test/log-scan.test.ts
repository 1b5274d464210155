// The end-of-run log scan (observability.global-setup.ts) catches what it is for: lines planted
// with a real password hash, a real API key hash and a real session id are reported; the ids a log
// line legitimately carries (trace and span ids, UUIDs, pnpm's patch hashes in stack paths) are not.
import { randomBytes, randomUUID, scryptSync } from "node:crypto";
import { generateSessionToken, hashApiKey, sessionIdOf } from "@credits/core";
import { describe, expect, it } from "vitest";
import { findLeaks } from "./observability.global-setup.ts";

const line = (fields: Record<string, unknown>) =>
  JSON.stringify({ level: "error", time: new Date().toISOString(), service: "credits-server", ...fields });

const kindsIn = (text: string) => findLeaks([text]).map((leak) => leak.kind);

describe("the log scan", () => {
  it("finds a password hash, as our scrypt encoding and as argon2id's PHC string", () => {
    // The encoding passwords.ts used for scrypt hashes (hashes stored before argon2id keep it).
    const salt = randomBytes(16);
    const derived = scryptSync("planted password 1234", salt, 64, { N: 16_384, r: 8, p: 1 });
    const scrypt = ["scrypt", 16_384, 8, 1, salt.toString("base64"), derived.toString("base64")].join("$");
    expect(kindsIn(line({ msg: "unhandled error", err: { message: `params: [email],${scrypt},user` } }))).toContain(
      "password hash",
    );
    const argon2 = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
    expect(kindsIn(line({ msg: "boom", detail: argon2 }))).toContain("password hash");
  });

  it("finds an API key hash and a session id (SHA-256 in hex), inside text or as a field", () => {
    // The shape of a real key (ck_ and 39 base32 characters); only its hash matters here.
    const key = `ck_${generateSessionToken()}${generateSessionToken().slice(0, 7)}`;
    const keyHash = hashApiKey(key);
    expect(
      kindsIn(line({ msg: "unhandled error", err: { message: `params: planted,ck_abc,${keyHash},{}` } })),
    ).toContain("key or session hash");
    const sessionId = sessionIdOf(generateSessionToken());
    expect(kindsIn(line({ msg: "session", id: sessionId }))).toContain("key or session hash");
  });

  it("lets the setup token through once, in the start-up line that announces it, and nowhere else", () => {
    const token = `setup_${generateSessionToken()}`;
    const announcement = line({ level: "info", msg: `no admin yet: open http://x/setup and enter ${token}` });
    expect(findLeaks([announcement])).toEqual([]);
    expect(kindsIn(line({ msg: "request", body: `token=${token}` }))).toEqual(["setup token"]);
    expect(findLeaks([announcement, announcement]).map((leak) => leak.kind)).toEqual(["setup token"]);
  });

  it("leaves trace ids, span ids, UUIDs and pnpm's patch hashes alone", () => {
    const clean = line({
      msg: "unhandled error",
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      requestId: randomUUID(),
      err: {
        stack:
          "Error: refused\n    at handle (file:///app/node_modules/.pnpm/postgres@3.4.9_patch_hash=86d9741f89fba9bf82de4dd52d278120edad9c43028a2f2cb6ae26d4066c71f4/node_modules/postgres/src/connection.js:499:6)",
      },
      // Two ids side by side are not one hash either.
      pair: "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    });
    expect(findLeaks([clean])).toEqual([]);
  });
});
