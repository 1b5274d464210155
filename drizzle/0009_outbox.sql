-- The outbox: every event the platform announces (core/events/events.ts), written in the same
-- transaction as the change that caused it, so there is no event without its change and no
-- change without its event. Consumers (outbound webhooks, email, the live balance) read it after
-- commit, in seq order. The id is the event's stable webhook-id.
CREATE TABLE outbox_events (
  id text PRIMARY KEY CHECK (id ~ '^evt_[0-9a-f]{32}$'),
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  type text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$' AND length(type) <= 64),
  user_id uuid,
  payload jsonb NOT NULL CHECK (payload ? 'type' AND payload ? 'timestamp' AND payload ? 'data'),
  created_at timestamptz(3) NOT NULL DEFAULT now()
);
--> statement-breakpoint
CREATE INDEX outbox_events_user_idx ON outbox_events (user_id, seq);
--> statement-breakpoint
-- The one way to write an event, from TypeScript (packages/db/src/outbox-store.ts) and from SQL
-- (a posting function can call it inside its own statement): builds the Standard Webhooks payload
-- {type, timestamp, data} so every writer produces the same shape.
CREATE FUNCTION outbox_emit(p_type text, p_user_id uuid, p_data jsonb, p_at timestamptz DEFAULT NULL)
RETURNS text LANGUAGE sql AS $$
  INSERT INTO outbox_events (id, type, user_id, payload, created_at)
  VALUES ('evt_' || replace(gen_random_uuid()::text, '-', ''), p_type, p_user_id,
          jsonb_build_object('type', p_type,
                             'timestamp', to_char(coalesce(p_at, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                             'data', p_data),
          coalesce(p_at, now()))
  RETURNING id
$$;
