-- Outbound webhooks (Standard Webhooks). Endpoints subscribe to event types; an AFTER INSERT
-- trigger on the outbox makes one delivery per subscribed, enabled endpoint in the transaction
-- that wrote the event, so a delivery exists exactly when its event does. Deliveries are the work
-- queue and the delivery log at once: a worker claims due ones with FOR UPDATE SKIP LOCKED and a
-- lease (ADR 011), and every attempt is a row of webhook_attempts.
CREATE TABLE webhook_endpoints (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
  events text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 64),
  -- whsec_…: kept readable because signing needs it; never returned after creation.
  secret text NOT NULL,
  -- The secret a rotation replaced: it signs too until previous_secret_expires_at (the overlap).
  previous_secret text,
  previous_secret_expires_at timestamptz(3),
  status text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
  disabled_reason text,
  -- Deliveries in a row that used up all their attempts; reset by any successful attempt.
  failed_deliveries integer NOT NULL DEFAULT 0,
  created_by uuid REFERENCES users(id),
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);
--> statement-breakpoint
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  event_id text NOT NULL REFERENCES outbox_events(id),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  -- Attempts ever made (numbers the log) and in the current round (a replay starts a new round).
  attempts integer NOT NULL DEFAULT 0,
  round_attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz(3) NOT NULL DEFAULT now(),
  -- The claim: no other worker takes the delivery before this (an attempt's timeout and a margin).
  locked_until timestamptz(3),
  last_status_code integer,
  last_error text,
  delivered_at timestamptz(3),
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (endpoint_id, event_id)
);
--> statement-breakpoint
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
--> statement-breakpoint
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC);
--> statement-breakpoint
CREATE TABLE webhook_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  started_at timestamptz(3) NOT NULL,
  -- null: no HTTP answer (refused address, timeout, connection error: see error).
  status_code integer,
  latency_ms integer NOT NULL,
  error text CHECK (length(error) <= 500),
  -- The start of the answer's body, control characters removed and secrets redacted.
  response_excerpt text CHECK (length(response_excerpt) <= 1024),
  UNIQUE (delivery_id, attempt)
);
--> statement-breakpoint
CREATE FUNCTION webhook_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_deliveries (endpoint_id, event_id, next_attempt_at)
  SELECT e.id, NEW.id, NEW.created_at
    FROM webhook_endpoints e
   WHERE e.status = 'enabled' AND NEW.type = ANY (e.events);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER outbox_events_webhook_fan_out AFTER INSERT ON outbox_events
  FOR EACH ROW EXECUTE FUNCTION webhook_fan_out();
