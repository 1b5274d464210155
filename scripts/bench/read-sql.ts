// The reads the bare server answers (the runtime's limit for the API's reads), each ONE statement
// doing the work of packages/db/src/account-read.ts: the live balance at now() (the cached balance
// less the remainders of grants past their expiry), the live grants in spending order and the newest
// page of history with each row's allocations, or the balance and the next expiry, with the fields
// the API's answer shows (as account-read.ts fetches them). $1 is the user.
// Same page size as the API's default (DEFAULT_PAGE_SIZE, one row more to know if a page follows).
import { DEFAULT_PAGE_SIZE } from "@credits/core";

const LIVE_BALANCE = `u.credits_balance - coalesce((
  SELECT sum(d.remaining) FROM credit_grants d
   WHERE d.user_id = u.id AND d.remaining > 0 AND d.expires_at <= now()), 0) AS balance`;

export const READ_SQL = `
SELECT ${LIVE_BALANCE},
  (SELECT json_agg(json_build_object('id', lg.id, 'category', lg.category, 'priority', lg.priority,
                                     'remaining', lg.remaining, 'expires_at', lg.expires_at, 'created_at', lg.created_at)
                   ORDER BY lg.priority, lg.expires_at NULLS LAST, lg.created_at, lg.entry_seq NULLS FIRST, lg.id)
     FROM (SELECT g.id, g.category, g.priority, g.remaining, g.expires_at, g.created_at, g.entry_seq
             FROM credit_grants g
            WHERE g.user_id = u.id AND g.remaining > 0 AND (g.expires_at IS NULL OR g.expires_at > now())) lg) AS grants,
  (SELECT json_agg(p ORDER BY p.seq DESC)
     FROM (SELECT t.id, t.seq, t.kind, t.amount, t.balance_after, t.reason, t.payment_id, t.hold_id, t.created_at,
                  ledger_allocations_of(t.id) AS allocations
             FROM credit_transactions t WHERE t.user_id = u.id
            ORDER BY t.seq DESC LIMIT ${DEFAULT_PAGE_SIZE + 1}) p) AS entries
  FROM users u WHERE u.id = $1::uuid`;

export const BALANCE_SQL = `
SELECT ${LIVE_BALANCE},
  (SELECT json_build_object('at', ne.expires_at, 'amount', ne.amount) FROM (
     SELECT g.expires_at, sum(g.remaining) AS amount FROM credit_grants g
      WHERE g.user_id = u.id AND g.remaining > 0 AND g.expires_at > now()
      GROUP BY g.expires_at ORDER BY g.expires_at LIMIT 1) ne) AS next_expiry
  FROM users u WHERE u.id = $1::uuid`;
