import type { Sql } from "postgres";
import { BENCH_USER_ID_SQL } from "../spend-sql.ts";

// Builds a big ledger fast, in set-based statements, through the tables the posting function
// writes (drizzle/0007): every user holds one non-expiring grant, opened by its `grant` ledger
// row with its allocation; each spend row carries the running balance, takes its credits from
// that grant (its allocation), and the user's cached balance and the grant's remainder move by
// the same total. The append-only triggers refuse only UPDATE and DELETE of the ledger, so the
// rows are inserted once and never touched; the invariant check finds nothing on the result.

const OPENING = 1_000_000_000; // the ledger's per-row bound (ledger_amount_bounded)
const SPREAD_SECONDS = 60 * 86_400; // rows are dated over the last 60 days
const USERS_PER_STATEMENT = 5_000;

// The debit of the g-th spend of a user: 1..5 credits.
const debit = (g: string) => `(1 + (${g}) % 5)`;
const debitTotal = (count: number) => {
  let total = 0;
  for (let g = 1; g <= count; g += 1) total += 1 + (g % 5);
  return total;
};

// The live-balance trigger (0010) notifies and checks alert thresholds per row: for rows nobody
// listens to, and balances nowhere near a threshold, the bulk load goes without it. The daily
// totals' trigger (0011) stays on: the stats must count these rows.
export async function withoutAnnouncements(pg: Sql, load: () => Promise<void>): Promise<void> {
  await pg`ALTER TABLE credit_transactions DISABLE TRIGGER credit_transactions_announce`;
  try {
    await load();
  } finally {
    await pg`ALTER TABLE credit_transactions ENABLE TRIGGER credit_transactions_announce`;
  }
}

export type UserSet = { where: string; params: unknown[] };
export const benchUsers = (from: number, to: number): UserSet => ({
  where: `u.id BETWEEN ${BENCH_USER_ID_SQL(String(from))} AND ${BENCH_USER_ID_SQL(String(to))}`,
  params: [],
});
export const oneUser = (id: string): UserSet => ({ where: "u.id = $1::uuid", params: [id] });

export async function createBenchUsers(pg: Sql, count: number): Promise<void> {
  await pg.unsafe(`
    INSERT INTO users (id, email, created_at)
    SELECT ${BENCH_USER_ID_SQL("g")}, 'scale' || g || '@example.com', now() - (g % 365) * interval '1 day'
      FROM generate_series(1, ${count}) AS g`);
}

// The opening grant of every user in the set: its ledger row, its grant, its allocation.
export async function openGrants(pg: Sql, users: UserSet): Promise<void> {
  await pg.unsafe(
    `WITH entry AS (
       INSERT INTO credit_transactions AS t (user_id, amount, balance_after, kind, idempotency_key, reason, created_at)
       SELECT u.id, ${OPENING}, ${OPENING}, 'grant', 'scale:open:' || u.id, 'scale bench', now() - interval '61 days'
         FROM users u WHERE ${users.where}
       RETURNING t.id, t.seq, t.user_id, t.amount, t.created_at),
     opened AS (
       INSERT INTO credit_grants AS cg (user_id, category, priority, amount, remaining, source, entry_id, entry_seq, created_at)
       SELECT user_id, 'promotional', 50, amount, amount, 'api', id, seq, created_at FROM entry
       RETURNING cg.id, cg.entry_id, cg.amount)
     INSERT INTO ledger_allocations (entry_id, grant_id, amount) SELECT entry_id, id, amount FROM opened`,
    users.params as never[],
  );
  await pg.unsafe(`UPDATE users u SET credits_balance = ${OPENING} WHERE ${users.where}`, users.params as never[]);
}

// Appends `count` spends to every user in the set, continuing each user's balance.
export async function appendSpends(pg: Sql, users: UserSet, count: number, batch: string): Promise<void> {
  if (count <= 0) return;
  await pg.unsafe(
    `WITH plan AS (
       SELECT u.id AS user_id, u.credits_balance AS base, g, ${debit("g")} AS debit,
              row_number() OVER () AS n
         FROM users u, generate_series(1, ${count}) AS g WHERE ${users.where}),
     entry AS (
       INSERT INTO credit_transactions AS t (user_id, amount, balance_after, kind, idempotency_key, created_at)
       SELECT user_id, -debit, base - sum(debit) OVER (PARTITION BY user_id ORDER BY g), 'spend',
              'scale:${batch}:' || n, now() - ((n * 7919) % ${SPREAD_SECONDS}) * interval '1 second'
         FROM plan ORDER BY user_id, g
       RETURNING t.id, t.user_id, t.amount)
     INSERT INTO ledger_allocations (entry_id, grant_id, amount)
     SELECT entry.id, cg.id, entry.amount FROM entry JOIN credit_grants cg ON cg.user_id = entry.user_id`,
    users.params as never[],
  );
  const total = debitTotal(count);
  await pg.unsafe(
    `UPDATE credit_grants cg SET remaining = remaining - ${total} FROM users u WHERE cg.user_id = u.id AND ${users.where}`,
    users.params as never[],
  );
  await pg.unsafe(
    `UPDATE users u SET credits_balance = credits_balance - ${total} WHERE ${users.where}`,
    users.params as never[],
  );
}

// Spreads about `rows` new spends (rounded up to a whole number per user) over bench users
// 2..users (user 1's history stays as it is), in statements of a few thousand users each.
export async function growLedger(pg: Sql, users: number, rows: number, batch: string, log: (s: string) => void) {
  const perUser = Math.ceil(rows / (users - 1));
  for (let from = 2; from <= users; from += USERS_PER_STATEMENT) {
    const to = Math.min(users, from + USERS_PER_STATEMENT - 1);
    await appendSpends(pg, benchUsers(from, to), perUser, `${batch}:${from}`);
    if ((from - 2) % (USERS_PER_STATEMENT * 5) === 0) log(`  ... users ${from}-${to} of ${users}`);
  }
}

// Admin-side tables grow with the ledger: audit rows, expired approvals, payments. The pending
// approvals (`pending`, the first size's call only) stay as many at both sizes: they follow the
// admins' work, not the ledger's size, and the approvals queue answers all of them (a gate had
// the queue at 1.93×, "no known reason": 20 pending at the smaller size, 40 at the larger).
export async function growAdminTables(
  pg: Sql,
  adminId: string,
  { users, rows, pending, batch }: { users: number; rows: number; pending: number; batch: string },
) {
  const audit = Math.max(100, Math.floor(rows / 100));
  await pg.unsafe(
    `INSERT INTO admin_actions (actor_id, target_user_id, action, amount, reason, created_at)
     SELECT $1::uuid, ${BENCH_USER_ID_SQL(`1 + g % ${users}`)}, 'scale_note', g % 100, 'scale bench',
            now() - ((g * 7919) % ${SPREAD_SECONDS}) * interval '1 second'
       FROM generate_series(1, ${audit}) AS g`,
    [adminId],
  );
  const requests = Math.max(100, Math.floor(rows / 500));
  await pg.unsafe(
    `INSERT INTO adjustment_requests (requested_by, target_user_id, amount, reason, idempotency_key, status, decided_at,
                                      expires_at, created_at)
     SELECT $1::uuid, ${BENCH_USER_ID_SQL(`1 + g % ${users}`)}, 1 + g % 50, 'scale bench', 'scale:${batch}:req:' || g,
            CASE WHEN g <= ${pending} THEN 'pending' ELSE 'expired' END::adjustment_status,
            CASE WHEN g <= ${pending} THEN NULL ELSE now() END,
            CASE WHEN g <= ${pending} THEN now() + interval '1 day' ELSE now() - interval '1 day' END,
            now() - ((g * 7919) % ${SPREAD_SECONDS}) * interval '1 second'
       FROM generate_series(1, ${requests}) AS g`,
    [adminId],
  );
  // Credited payments feed the revenue column of the daily stats; their credits are not what the
  // scale bench times, so they carry no ledger rows.
  const payments = Math.max(100, Math.floor(rows / 100));
  await pg.unsafe(`
    INSERT INTO payments (user_id, package_id, credits, amount_minor, currency, provider, status, credited_at, created_at)
    SELECT ${BENCH_USER_ID_SQL(`1 + g % ${users}`)}, p.id, p.credits, p.unit_amount, p.currency, 'stripe', 'paid',
           now() - ((g * 7919) % ${SPREAD_SECONDS}) * interval '1 second', now() - interval '61 days'
      FROM generate_series(1, ${payments}) AS g,
           (SELECT c.id, c.credits, price.unit_amount, price.currency
              FROM credit_packages c JOIN credit_package_prices price ON price.package_id = c.id AND price.sort_order = 0
             ORDER BY c.slug LIMIT 1) p`);
}
