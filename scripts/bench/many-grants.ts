import type { Sql } from "postgres";
import { BENCH_USER_ID_SQL } from "./spend-sql.ts";

// The "users with 20 live grants" scenario (issue 14): bench users numbered after the plain ones,
// each holding 20 grants of mixed priority and expiry (all in the future), so every spend walks a
// deep spending order and usually takes from more than one grant.
export const GRANTS_PER_USER = 20;

export async function seedManyGrantUsers(pg: Sql, first: number, count: number, creditsPerGrant: number) {
  await pg.unsafe(`
    INSERT INTO users (id, email)
    SELECT ${BENCH_USER_ID_SQL("g")}, 'bench-grants' || g || '@example.com'
      FROM generate_series(${first}, ${first + count - 1}) AS g`);
  // Grants of 1..creditsPerGrant credits: small ones run out early, so spends cross grant edges.
  await pg.unsafe(`
    SELECT count(*) FROM post_ledger((
      SELECT jsonb_agg(jsonb_build_object(
               'ord', g * ${GRANTS_PER_USER} + n, 'user_id', ${BENCH_USER_ID_SQL("g")},
               'amount', 1 + (n * 7) % ${creditsPerGrant}, 'kind', 'grant',
               'idempotency_key', 'bench:grants:' || g || ':' || n,
               'grant_priority', (n % 4) * 10,
               'grant_expires_at', CASE WHEN n % 3 = 0 THEN NULL ELSE now() + (n || ' days')::interval END))
        FROM generate_series(${first}, ${first + count - 1}) AS g, generate_series(1, ${GRANTS_PER_USER}) AS n))`);
}
