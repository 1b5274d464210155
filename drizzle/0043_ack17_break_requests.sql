-- A chain break moving more credits than one admin may accept (ADMIN_APPROVAL_THRESHOLD, counted
-- with what admins moved for the user alone within the window) waits for a second admin (ADR 012):
-- the first admin's acknowledgement is recorded here, and the break is accepted (a
-- ledger_break_acknowledgements row) only when another admin, not the user whose ledger it is,
-- acknowledges it too; accepted_at is then set. delta is the row's jump when requested: a second
-- admin accepts only that jump (a request whose row's jump changed since is replaced).
-- The foreign keys take SHARE ROW EXCLUSIVE on users, which waits for every posting in flight and
-- holds the postings that come after it: bounded, the migration fails and runs again at the next
-- start rather than stall them (as 0041).
SET LOCAL lock_timeout = '5s';
--> statement-breakpoint
CREATE TABLE ledger_break_requests (
  user_id uuid NOT NULL REFERENCES users(id),
  seq bigint NOT NULL,
  delta bigint NOT NULL CHECK (delta <> 0),
  requested_by uuid NOT NULL REFERENCES users(id),
  reason text NOT NULL,
  created_at timestamp (3) with time zone NOT NULL DEFAULT now(),
  accepted_at timestamp (3) with time zone,
  PRIMARY KEY (user_id, seq),
  CONSTRAINT ledger_break_requests_not_own CHECK (requested_by <> user_id)
);
--> statement-breakpoint
-- The requests still waiting, newest first (the run page and the API list them): the index holds
-- the pending ones only, so the list does not grow with the accepted.
CREATE INDEX ledger_break_requests_pending_idx ON ledger_break_requests (created_at DESC, user_id, seq)
  WHERE accepted_at IS NULL;
--> statement-breakpoint
SET LOCAL lock_timeout = DEFAULT;
