-- The ledger step's findings are never lost, and a chain break can be acknowledged (issue 17
-- review, ADR 012).
--
-- The users the ledger step last found in violation, whether or not their finding was stored: a
-- run stores at most MAX_INVARIANT_FINDINGS of them, and the daily pass used to re-check only the
-- users of the stored findings, so a violator past the limit whose rows then fell below the
-- checkpoint was not seen again until the weekly pass. Each pass rewrites the set (violators in,
-- users found clean out); the daily pass re-checks every user in it from their first row.
-- reported_at: when a run last stored a finding about the user (the least recently reported come
-- first, so runs past the limit take turns).
CREATE TABLE ledger_flagged_users (
  user_id uuid PRIMARY KEY REFERENCES users(id),
  flagged_at timestamp (3) with time zone NOT NULL DEFAULT now(),
  reported_at timestamp (3) with time zone
);
--> statement-breakpoint
-- A break of a user's balance_after chain that an admin looked at and accepted (the ledger is
-- append-only: the row cannot be corrected). delta is the row's jump (balance_after minus the
-- previous row's balance_after minus its amount) when acknowledged: the checks accept exactly that
-- jump at exactly that row, and count it in the ledger's sum, so any other break or drift of the
-- user is still reported.
CREATE TABLE ledger_break_acknowledgements (
  user_id uuid NOT NULL REFERENCES users(id),
  seq bigint NOT NULL,
  delta bigint NOT NULL CHECK (delta <> 0),
  actor_id uuid NOT NULL REFERENCES users(id),
  reason text NOT NULL,
  created_at timestamp (3) with time zone NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, seq)
);
--> statement-breakpoint
-- The users the newest checkpointed run stored findings about stay flagged (they were re-checked
-- from those findings before this table).
INSERT INTO ledger_flagged_users (user_id, reported_at)
SELECT f.user_id, max(f.created_at) FROM reconciliation_findings f
 WHERE f.kind = 'ledger_invariant' AND f.user_id IS NOT NULL
   AND f.run_id = (SELECT id FROM reconciliation_runs
                    WHERE status = 'succeeded' AND stats ? 'ledgerCheckpoint'
                    ORDER BY created_at DESC, id DESC LIMIT 1)
 GROUP BY f.user_id;
