-- credits.expiring (issue 16): one notice per grant, N days before its expiresAt. The notice row
-- is the "once": every instance's sweeper claims due grants (FOR UPDATE SKIP LOCKED) and inserts
-- their notices ON CONFLICT DO NOTHING; only the rows it inserted raise the event and the mail, in
-- the same transaction. A grant whose remainder is 0 when the sweeper looks raises nothing.
CREATE TABLE grant_expiry_notices (
  grant_id uuid PRIMARY KEY REFERENCES credit_grants(id),
  -- What the notice said: the remainder then, and the expiry it announced.
  amount bigint NOT NULL CHECK (amount > 0),
  expires_at timestamptz(3) NOT NULL,
  created_at timestamptz(3) NOT NULL DEFAULT now()
);
