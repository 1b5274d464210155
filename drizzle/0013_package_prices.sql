-- Packs managed by admins (issue 15): a price per currency, display order, a "best value" flag,
-- archiving instead of a boolean, a creator's idempotency key; a payment keeps the credits' expiry
-- it was sold with.
CREATE TABLE "credit_package_prices" (
	"package_id" uuid NOT NULL REFERENCES "credit_packages"("id"),
	"currency" text NOT NULL,
	-- Minor units of the currency, with its own exponent (core/money.ts); Stripe takes eight digits.
	"unit_amount" bigint NOT NULL,
	-- The order the admin gave the prices in: the first is the pack's default price.
	"sort_order" smallint NOT NULL,
	CONSTRAINT "credit_package_prices_pkey" PRIMARY KEY ("package_id", "currency"),
	CONSTRAINT "package_prices_currency_iso" CHECK ("currency" ~ '^[a-z]{3}$'),
	CONSTRAINT "package_prices_amount_bounded" CHECK ("unit_amount" > 0 AND "unit_amount" <= 99999999),
	CONSTRAINT "package_prices_sort_order_range" CHECK ("sort_order" >= 0 AND "sort_order" < 20)
);
--> statement-breakpoint
INSERT INTO "credit_package_prices" ("package_id", "currency", "unit_amount", "sort_order")
SELECT "id", "currency", "price_minor", 0 FROM "credit_packages";
--> statement-breakpoint
ALTER TABLE "credit_packages"
  ADD COLUMN "position" integer DEFAULT 0 NOT NULL,
  ADD COLUMN "highlight" boolean DEFAULT false NOT NULL,
  ADD COLUMN "archived_at" timestamp (3) with time zone,
  ADD COLUMN "created_by" uuid REFERENCES "users"("id"),
  ADD COLUMN "idempotency_key" text,
  ADD COLUMN "updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
  ADD CONSTRAINT "packages_position_range" CHECK ("position" >= 0 AND "position" <= 10000),
  ADD CONSTRAINT "packages_credit_expiry_bounded" CHECK ("credit_expiry_days" IS NULL OR "credit_expiry_days" <= 3650),
  ADD CONSTRAINT "packages_name_bounded" CHECK (char_length("name") BETWEEN 1 AND 100),
  ADD CONSTRAINT "packages_creator_key_unique" UNIQUE ("created_by", "idempotency_key");
--> statement-breakpoint
-- Packs were listed by credits: that order becomes their positions.
UPDATE "credit_packages" p SET "position" = o."n"
  FROM (SELECT "id", row_number() OVER (ORDER BY "credits", "id") - 1 AS "n" FROM "credit_packages") o
 WHERE p."id" = o."id";
--> statement-breakpoint
UPDATE "credit_packages" SET "archived_at" = now() WHERE NOT "active";
--> statement-breakpoint
ALTER TABLE "credit_packages" DROP COLUMN "active", DROP COLUMN "price_minor", DROP COLUMN "currency";
--> statement-breakpoint
ALTER TABLE "payments"
  ADD COLUMN "credit_expiry_days" integer,
  ADD CONSTRAINT "payments_credit_expiry_positive" CHECK ("credit_expiry_days" IS NULL OR "credit_expiry_days" > 0);
--> statement-breakpoint
-- A payment not yet credited keeps the expiry its pack has now (what it was sold with, as far as
-- we know); credited ones already have their grant.
UPDATE "payments" p SET "credit_expiry_days" = c."credit_expiry_days"
  FROM "credit_packages" c
 WHERE c."id" = p."package_id" AND p."credited_at" IS NULL AND c."credit_expiry_days" IS NOT NULL;
