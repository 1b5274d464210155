import { type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";
import { type Algorithm, hash as argon2Hash, verify as argon2Verify } from "@node-rs/argon2";
import pLimit from "p-limit";
import { RateLimitedError } from "../errors.ts";

// argon2id at OWASP's Password Storage Cheat Sheet's first listed configuration (19 MiB, 2
// passes, 1 lane). The encoded hash names its own parameters, so raising these later still
// verifies every stored hash, and the next log-in rehashes it (needsRehash).
export const ARGON2_PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
export type Argon2Params = { memoryCost: number; timeCost: number; parallelism: number };

// Bounds on parameters read back from a stored hash: a corrupt or hostile value must not make a
// log-in allocate gigabytes or spin for minutes.
const MAX_ARGON2 = { memoryCost: 262_144, timeCost: 16, parallelism: 8 };
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

// Each hash holds its memory (19 MiB) on one of libuv's threads (4 by default, shared with file
// and DNS work) for its whole run: a few at a time, a bounded queue behind them, and a refusal
// beyond that, rather than memory and latency growing with the number of log-ins in flight.
export interface HashingLimits {
  concurrency: number;
  maxQueued: number;
}
export const DEFAULT_HASHING_LIMITS: HashingLimits = { concurrency: 2, maxQueued: 64 };
// Algorithm.Argon2id: the package declares its enum `const`, which this build cannot import.
const ARGON2ID = 2 as Algorithm;

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;

export function createPasswordHasher({
  params = ARGON2_PARAMS,
  limits = DEFAULT_HASHING_LIMITS,
}: {
  params?: Argon2Params;
  limits?: HashingLimits;
} = {}) {
  const slots = pLimit(limits.concurrency);
  function limited<T>(work: () => Promise<T>): Promise<T> {
    // Refused at once: the client retries in a second rather than waiting in an unbounded line.
    if (slots.pendingCount >= limits.maxQueued) return Promise.reject(new RateLimitedError(1));
    return slots(work);
  }

  return {
    params,
    // Returns the PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
    hash: (password: string): Promise<string> =>
      limited(() => argon2Hash(normalize(password), { algorithm: ARGON2ID, ...params })),
    // False for a wrong password and for a hash this code cannot read (never throws on bad input,
    // only RateLimitedError when the hashing queue is full).
    verify: (password: string, encoded: string): Promise<boolean> => {
      if (parseArgon2(encoded)) {
        return limited(() => argon2Verify(encoded, normalize(password))).catch((error: unknown) => {
          if (error instanceof RateLimitedError) throw error;
          return false;
        });
      }
      const scryptHash = parseScrypt(encoded);
      return scryptHash ? limited(() => verifyScrypt(password, scryptHash)) : Promise.resolve(false);
    },
    // True for a hash made by another algorithm or with other parameters than this hasher's.
    needsRehash: (encoded: string): boolean => {
      const current = parseArgon2(encoded);
      return (
        !current ||
        current.memoryCost !== params.memoryCost ||
        current.timeCost !== params.timeCost ||
        current.parallelism !== params.parallelism
      );
    },
    // Hashes started and waiting: for the benchmark and tests.
    load: () => ({ active: slots.activeCount, queued: slots.pendingCount }),
  };
}

// NIST 800-63B: normalize Unicode, so the same password typed on another device still matches.
const normalize = (password: string) => password.normalize("NFKC");

function parseArgon2(encoded: string): Argon2Params | null {
  const match = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,2})\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{22,}$/.exec(
    encoded,
  );
  if (!match) return null;
  const [memoryCost, timeCost, parallelism] = match.slice(1, 4).map(Number);
  if (memoryCost === undefined || timeCost === undefined || parallelism === undefined) return null;
  if (memoryCost < 8 * parallelism || memoryCost > MAX_ARGON2.memoryCost) return null;
  if (timeCost < 1 || timeCost > MAX_ARGON2.timeCost || parallelism < 1 || parallelism > MAX_ARGON2.parallelism) {
    return null;
  }
  return { memoryCost, timeCost, parallelism };
}

// Hashes made before argon2id: `scrypt$N$r$p$salt$hash` (salt and hash in base64). They still
// verify, and are replaced on the next successful log-in.
function parseScrypt(encoded: string) {
  const parts = encoded.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return null;
  const [N, r, p] = parts.slice(1, 4).map((part) => (/^\d{1,8}$/.test(part) ? Number(part) : Number.NaN));
  if (N === undefined || r === undefined || p === undefined) return null;
  // N must be a power of two above 1 (scrypt's own rule).
  if (!(N > 1 && N <= MAX_N && (N & (N - 1)) === 0)) return null;
  if (!(r >= 1 && r <= MAX_R && p >= 1 && p <= MAX_P)) return null;
  const salt = Buffer.from(parts[4] ?? "", "base64");
  const hash = Buffer.from(parts[5] ?? "", "base64");
  if (salt.length < 8 || hash.length < 16 || hash.length > 128) return null;
  return { params: { N, r, p }, salt, hash };
}

function verifyScrypt(password: string, { params, salt, hash }: NonNullable<ReturnType<typeof parseScrypt>>) {
  // Node refuses anything above maxmem (32 MiB by default); give the stored cost what it needs.
  const options: ScryptOptions = { ...params, maxmem: 128 * params.N * params.r * params.p + 1024 * 1024 };
  return new Promise<boolean>((resolve, reject) => {
    scrypt(normalize(password), salt, hash.length, options, (error, key) =>
      error ? reject(error) : resolve(timingSafeEqual(key, hash)),
    );
  });
}
