-- A pack priced below every pack on sale in a currency (or in one no pack on sale is priced in)
-- waits for a second admin before it is sold (review 9 F3, ADR 015): one admin pricing 1,000,000
-- credits at 50 cents minted credits around the approval rule an adjustment of that size needs.
-- Packs made before are on sale as they were.
ALTER TABLE "credit_packages" ADD COLUMN "awaiting_approval" boolean NOT NULL DEFAULT false;
