-- Provider customers still to delete after an erasure (GDPR), as a durable set. Erasure used to
-- delete the customer at the provider before its transaction, so a checkout that created the
-- customer between that call and the transaction stored it on the erased user (and its email
-- stayed at Stripe), and an erasure while the provider was down could not proceed. Now the
-- erasure queues the user's customer in its transaction, a customer created for an already
-- erased user is queued instead of stored, and a worker deletes each at the provider (an
-- already deleted one counts as done) and then its row; a failed delete stays, counted, and is
-- tried again later (backoff by tries).
CREATE TABLE provider_customers_to_delete (
  customer_id text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id),
  tries integer NOT NULL DEFAULT 0,
  last_tried_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
CREATE INDEX provider_customers_to_delete_due_idx ON provider_customers_to_delete (last_tried_at NULLS FIRST, created_at);
