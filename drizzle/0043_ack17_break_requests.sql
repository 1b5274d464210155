-- A chain break moving more credits than one admin may accept (ADMIN_APPROVAL_THRESHOLD) waits
-- for a second admin (ADR 012): the first admin's acknowledgement is recorded here, and the break
-- is accepted (a ledger_break_acknowledgements row) only when another admin, not the user whose
-- ledger it is, acknowledges it too. delta is the row's jump when requested; the ledger is
-- append-only, so it is still the row's jump when the second admin accepts it.
CREATE TABLE ledger_break_requests (
  user_id uuid NOT NULL REFERENCES users(id),
  seq bigint NOT NULL,
  delta bigint NOT NULL CHECK (delta <> 0),
  requested_by uuid NOT NULL REFERENCES users(id),
  reason text NOT NULL,
  created_at timestamp (3) with time zone NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, seq),
  CONSTRAINT ledger_break_requests_not_own CHECK (requested_by <> user_id)
);
--> statement-breakpoint
-- The requests still waiting, newest first (the run page and the API list them).
CREATE INDEX ledger_break_requests_created_idx ON ledger_break_requests (created_at DESC, user_id, seq);
