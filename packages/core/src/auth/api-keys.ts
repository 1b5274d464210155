import { hash as hashOnce, randomBytes, randomUUID } from "node:crypto";
import { encodeBase32LowerCaseNoPadding } from "@oslojs/encoding";
import { type Clock, systemClock } from "../clock.ts";
import { ForbiddenError, InvalidInputError, NotFoundError, UnauthenticatedError } from "../errors.ts";
import { MAX_API_KEY_NAME_LENGTH, MAX_PAGE_SIZE } from "../limits.ts";
import { assertText, isUuid, pageLimit } from "../validate.ts";
import { type ApiKeyLimits, parseLimits } from "./api-key-limits.ts";
import type { ApiKeyAudit, ApiKeyRecord, ApiKeyStore } from "./ports.ts";

export const apiKeyScopes = ["credits:read", "credits:spend", "credits:grant"] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];

const KEY_PREFIX = "ck_";
// 24 random bytes (192 bits) in base32 without padding: 39 characters of [a-z2-7].
const KEY_PATTERN = /^ck_[a-z2-7]{39}$/;
// What lists show: enough to tell keys apart, far too little to guess the rest from.
const SHOWN_PREFIX_LENGTH = KEY_PREFIX.length + 8;
// lastUsedAt is informational: a minute's precision is enough, and it keeps the authentication hot
// path free of writes.
export const LAST_USED_PRECISION_MS = 60_000;

export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  ownerUserId: string | null;
  ownerEmail: string | null;
  limits: ApiKeyLimits;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

// The only time the key itself exists outside the caller's hands: it is shown once, never stored.
export interface CreatedApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  limits: ApiKeyLimits;
  key: string;
}

// A key that works: it has an owner, who is a live admin (checked when it is authenticated).
export interface ApiKeyPrincipal {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  ownerUserId: string;
  limits: ApiKeyLimits;
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;

// authenticate() remembers a live key for a few seconds (a bounded LRU), so the hot path of an
// API-key request is one round trip (the work itself) rather than two. Revocation and the owner's
// erasure through this service forget it at once in this process; another instance sees them,
// and the owner losing the admin role (no code path does it: a database change), within the TTL.
export const API_KEY_CACHE_TTL_MS = 5_000;
export const API_KEY_CACHE_MAX = 1_000;

interface CachedKey {
  principal: ApiKeyPrincipal;
  lastUsedAt: Date | null;
  expiresAtMs: number;
}

export function createApiKeyService({
  store,
  clock = systemClock,
  cacheTtlMs = API_KEY_CACHE_TTL_MS,
}: {
  store: ApiKeyStore;
  clock?: Clock;
  // 0 turns the cache off.
  cacheTtlMs?: number;
}) {
  const cache = new Map<string, CachedKey>();
  const forget = (matches: (principal: ApiKeyPrincipal) => boolean) => {
    for (const [hash, entry] of cache) if (matches(entry.principal)) cache.delete(hash);
  };

  // Every key has an accountable owner: the admin who makes it (recorded with an audit row).
  async function create(
    input: {
      name: string;
      scopes: readonly string[];
      ownerUserId: string;
      limits?: Partial<ApiKeyLimits> | null;
    },
    audit: Omit<ApiKeyAudit, "actorId"> = { requestId: null, via: "api" },
  ): Promise<CreatedApiKey> {
    const name = input.name.trim();
    if (name.length === 0) throw new InvalidInputError("name is required");
    assertText(name, "name", { maxLength: MAX_API_KEY_NAME_LENGTH });
    const scopes = parseScopes(input.scopes);
    const limits = parseLimits(input.limits);
    const ownerUserId = input.ownerUserId;
    if (!isUuid(ownerUserId)) throw new ForbiddenError("an API key's owner must be an admin");
    const key = KEY_PREFIX + encodeBase32LowerCaseNoPadding(randomBytes(24));
    const created = await store.insertApiKey(
      {
        id: randomUUID(),
        name,
        prefix: key.slice(0, SHOWN_PREFIX_LENGTH),
        keyHash: hashApiKey(key),
        scopes,
        ownerUserId,
        limits,
        createdAt: clock.now(),
      },
      { ...audit, actorId: ownerUserId },
    );
    if (!created) throw new ForbiddenError("an API key's owner must be an admin");
    return { id: created.id, name: created.name, prefix: created.prefix, scopes, limits, key };
  }

  // Null for anything that is not a key: malformed, unknown or revoked. A key whose owner cannot
  // answer for it (none recorded, erased, no longer an admin) is refused with the reason, so its
  // holder knows to ask an admin for a new one.
  async function authenticate(key: string): Promise<ApiKeyPrincipal | null> {
    if (!KEY_PATTERN.test(key)) return null;
    const keyHash = hashApiKey(key);
    const now = clock.now();
    const staleBefore = new Date(now.getTime() - LAST_USED_PRECISION_MS);
    const cached = cache.get(keyHash);
    if (cached && cached.expiresAtMs > now.getTime()) {
      cache.delete(keyHash);
      remember(cache, keyHash, cached);
      if (cached.lastUsedAt === null || cached.lastUsedAt < staleBefore) {
        cached.lastUsedAt = now;
        await store.touchApiKey(cached.principal.id, now, staleBefore);
      }
      return cached.principal;
    }
    if (cached) cache.delete(keyHash);
    const found = await store.findApiKeyByHash(keyHash);
    if (!found || found.revokedAt !== null) return null;
    const ownerUserId = accountableOwner(found);
    // The read decides whether to write at all; the conditional UPDATE settles concurrent requests.
    let lastUsedAt = found.lastUsedAt;
    if (lastUsedAt === null || lastUsedAt < staleBefore) {
      await store.touchApiKey(found.id, now, staleBefore);
      lastUsedAt = now;
    }
    const principal: ApiKeyPrincipal = {
      id: found.id,
      name: found.name,
      scopes: knownScopes(found.scopes),
      ownerUserId,
      limits: found.limits,
    };
    if (cacheTtlMs > 0) remember(cache, keyHash, { principal, lastUsedAt, expiresAtMs: now.getTime() + cacheTtlMs });
    return principal;
  }

  // The owner was erased: their keys stop working here at once (the store refuses them anyway).
  function forgetOwner(ownerUserId: string): void {
    forget((principal) => principal.ownerUserId === ownerUserId);
  }

  // Revoking twice is fine and keeps the first revocation time (and its one audit row).
  async function revoke(
    id: string,
    audit: ApiKeyAudit = { actorId: null, requestId: null, via: "api" },
  ): Promise<ApiKeyInfo> {
    forget((principal) => principal.id === id);
    const revoked = isUuid(id) ? await store.revokeApiKey(id, clock.now(), audit) : null;
    forget((principal) => principal.id === id);
    if (!revoked) throw new NotFoundError("api key");
    return toInfo(revoked);
  }

  async function list(query: { ownerUserId?: string; limit?: number } = {}): Promise<ApiKeyInfo[]> {
    const limit = pageLimit(query.limit, MAX_PAGE_SIZE);
    if (query.ownerUserId !== undefined && !isUuid(query.ownerUserId)) return [];
    const rows = await store.listApiKeys({
      limit,
      ...(query.ownerUserId !== undefined ? { ownerUserId: query.ownerUserId } : {}),
    });
    return rows.map(toInfo);
  }

  return { create, authenticate, revoke, list, forgetOwner };
}

// The owner id of a key whose owner can answer for it; otherwise the reason it no longer works.
function accountableOwner(found: {
  ownerUserId: string | null;
  ownerErased: boolean;
  ownerRole: string | null;
}): string {
  if (found.ownerUserId === null) {
    throw new UnauthenticatedError(
      "this API key has no accountable owner (it was made before keys had owners): an admin must create a new one",
    );
  }
  if (found.ownerErased) throw new UnauthenticatedError("this API key's owner was erased: it no longer works");
  if (found.ownerRole !== "admin") {
    throw new UnauthenticatedError("this API key's owner is no longer an admin: it no longer works");
  }
  return found.ownerUserId;
}

// Most recently used last: past API_KEY_CACHE_MAX the first entry is evicted.
function remember(cache: Map<string, CachedKey>, keyHash: string, entry: CachedKey): void {
  cache.set(keyHash, entry);
  if (cache.size > API_KEY_CACHE_MAX) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
}

export function isApiKeyScope(value: string): value is ApiKeyScope {
  return (apiKeyScopes as readonly string[]).includes(value);
}

export function hasScope(principal: { scopes: readonly string[] }, scope: ApiKeyScope): boolean {
  return principal.scopes.includes(scope);
}

export function assertScope(principal: { scopes: readonly string[] }, scope: ApiKeyScope): void {
  if (!hasScope(principal, scope)) throw new ForbiddenError(`this API key lacks the ${scope} scope`);
}

export function hashApiKey(key: string): string {
  // Node's one-shot SHA-256: every request with a credential hashes it; ~1.5 µs against ~4 µs
  // for the JS one or for createHash (a hash object per call). The same digest: stored hashes
  // stay valid.
  return hashOnce("sha256", key, "hex");
}

function parseScopes(raw: readonly string[]): ApiKeyScope[] {
  if (raw.length === 0) throw new InvalidInputError("an API key needs at least one scope");
  const unknown = raw.filter((scope) => !isApiKeyScope(scope));
  if (unknown.length > 0) {
    throw new InvalidInputError(`unknown scope ${unknown[0]}; scopes are ${apiKeyScopes.join(", ")}`);
  }
  // Stored in the canonical order, each once.
  return apiKeyScopes.filter((scope) => raw.includes(scope));
}

// A scope this code no longer knows (from an older version) grants nothing.
function knownScopes(stored: readonly string[]): ApiKeyScope[] {
  return apiKeyScopes.filter((scope) => stored.includes(scope));
}

// Explicit fields: whatever else a store returns does not leak through.
function toInfo(key: ApiKeyRecord): ApiKeyInfo {
  const { id, name, prefix, ownerUserId, ownerEmail, limits, createdAt, lastUsedAt, revokedAt } = key;
  const scopes = knownScopes(key.scopes);
  return { id, name, prefix, scopes, ownerUserId, ownerEmail, limits, createdAt, lastUsedAt, revokedAt };
}
