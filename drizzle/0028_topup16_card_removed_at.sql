-- When the saved card was last removed (by its user, or by a dispute): a Checkout started before
-- that never saves its card again, whichever late event or repair brings it (issue 16, removal wins).
ALTER TABLE auto_topup_settings ADD COLUMN card_removed_at timestamptz;
