-- Refunds from the admin panel and API (issue 15): one row per request, with its requester, the
-- second admin who approved it above the threshold, and the provider's refund id once accepted.
-- The credits a refund takes back are recorded on the payment and in the ledger by the refund
-- path (ADR 002), never here.
CREATE TYPE "public"."refund_status" AS ENUM('pending', 'processing', 'succeeded', 'failed', 'rejected', 'expired');
--> statement-breakpoint
CREATE TABLE "payment_refunds" (
  "id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  "payment_id" uuid NOT NULL REFERENCES "payments"("id"),
  "user_id" uuid NOT NULL REFERENCES "users"("id"),
  "amount_minor" bigint NOT NULL,
  "currency" text NOT NULL,
  "reason" text NOT NULL,
  "idempotency_key" text NOT NULL,
  "status" "refund_status" NOT NULL,
  "requested_by" uuid NOT NULL REFERENCES "users"("id"),
  "decided_by" uuid REFERENCES "users"("id"),
  "decided_at" timestamp (3) with time zone,
  "expires_at" timestamp (3) with time zone NOT NULL,
  "provider_refund_id" text,
  "failure_reason" text,
  "created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
  "updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
  CONSTRAINT "payment_refunds_idempotency_key_unique" UNIQUE ("idempotency_key"),
  CONSTRAINT "payment_refunds_provider_refund_id_unique" UNIQUE ("provider_refund_id"),
  CONSTRAINT "payment_refunds_amount_positive" CHECK ("amount_minor" > 0),
  CONSTRAINT "payment_refunds_currency_iso" CHECK ("currency" ~ '^[a-z]{3}$'),
  CONSTRAINT "payment_refunds_reason_present" CHECK (length(trim("reason")) > 0),
  -- The two-person rule, again in the database: the approver neither asked nor gets the money.
  CONSTRAINT "payment_refunds_second_person" CHECK ("decided_by" IS NULL OR ("decided_by" <> "requested_by" AND "decided_by" <> "user_id")),
  CONSTRAINT "payment_refunds_succeeded_has_provider_id" CHECK ("status" <> 'succeeded' OR "provider_refund_id" IS NOT NULL)
);
--> statement-breakpoint
CREATE INDEX "payment_refunds_payment_idx" ON "payment_refunds" ("payment_id", "created_at");
--> statement-breakpoint
CREATE INDEX "payment_refunds_pending_idx" ON "payment_refunds" ("created_at") WHERE "status" = 'pending';
