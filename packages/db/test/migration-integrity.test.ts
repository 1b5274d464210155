// Applied migrations are immutable: each file's content is pinned here, and a database refuses to
// start on a migration folder whose applied files changed.
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { ChangedMigrationError, migrationFiles } from "../src/migration-integrity.ts";
import { testDb } from "./setup.ts";

const folder = fileURLToPath(new URL("../../../drizzle", import.meta.url));

// The SHA-256 of every committed migration. A new migration adds its line; a changed line means an
// applied migration was edited, which every database that ran it would refuse at start.
const PINNED: Record<string, string> = {
  "0000_init": "110136d6b81c0872b492decee96347ae6ed9e3fe3f1fa6fafc3217174e0d4345",
  "0001_ledger_append_only": "28fcb4d288ab3a2a5da1facfc2bb80ee887a4c527a2fd5c61daababca4dd3d11",
  "0002_payment_transition_order": "df1d8289778891b84717531ea11416b74070852d2769d32d93a8a9f96f2f7e87",
  "0003_ledger_batch_posting": "c3e23fd982c232e23ce5f23b317263d040a5316d73c2047726a8bf0ce7c205d0",
  "0004_rate_limit_keys": "fd89291aa6aa46ee79f0c572ba383d440345e53b1d9d8d8f225858301cd64af9",
  "0005_api_key_controls": "0e28a4b7be4023421dcf9eea75407b932666f3fd069f2066666faa0169ab6b1f",
  "0006_scoped_keys_hold_clawbacks": "9b8947ffc2b4f3a59c96862cda18d325868f2d5345e5b856f9ca28c645180548",
  "0007_credit_grants": "a1c4c5a34686dc1f667c314c04fe25599ba974460a9a04ac31e0558163249435",
  "0008_grant_fixes": "2bf45f7b1bc09ae1a96c381af4ba995d5cd3db8eb62f539e639b47064810de23",
  "0009_outbox": "e5ad2d451fff7d1a6f65f46d788727aebc53bc30451fc63247e9b7b9cdfb2821",
  "0010_live_balance_alerts": "fd54d5691c6c71a059ca8556641bc9fe3a0b44ed2f3a8885def0b0402b7170ad",
  "0011_daily_rollups": "75d0e2625c96e9cc697783279fa434c6d5748fe268e4ad2d010b4905428656d7",
  "0012_webhooks": "c6974b258bef4fff586bf991295068911b3b1aa88df2bc6c00bc36669cf26da6",
  "0013_package_prices": "8c39cb0be6869f0199cd81ed455f99ea21a214b49d4717af211e6e41a49e9b8a",
  "0014_ledger_seq_index": "9641e967dae0648a3407b58d6ef55107658fac5534dd3a09f761433d1aa2776b",
  "0015_user_search_indexes": "39d6f6860ab8fcefb33d6bc24e7d36b58cf7fc85c18b2c7219c6555f84246798",
  "0016_payment_refunds": "6f438ae84e3dc3ce20087288292a142b78f17a6998aea145b51d09e978d579db",
  "0017_reversal_repaid_grants": "a7685c9c4508d16423c152ba102e90a60ee1b7601aa6fa5f6c2b08fcd977aec7",
  "0018_ledger_grants_epoch": "d606e517434c2c8e6d00d8762262249834ed949bd5cd077eb8c8272edc78d3b7",
  "0019_auto_topup": "0ed673ce9f6f1a5e4eaeeff3b696e1251a254d30321c178d9ce6231caf6e200f",
  "0020_payment_receipts": "e8f16a400281c12bdb45e33fb97997af49db8438443b601c1e4e17c54c78ba56",
  "0021_fix6_autotopup_spends": "1f29d1f9a3f2af7c1d79917988fae955c0e9053e76ce2380436baf5ba7335ff4",
  "0022_i16hooks_quiet_ledger": "b23f63f4eb9a54cda795049414bddc54067665c0ac67cd92d5167b9a778c1bc9",
  "0023_i15money_payment_paid_amounts": "78ea5fa1d9f2cf6ca23c54dda285a381abfbd50edbb64835d578f5bf7b29fe49",
  "0024_i16topup_grant_expiry_notices": "55404789c9d01a7aa4ee8ce605e3e7e6679e56b3ee22aa4c974663021012e652",
  "0025_topup_autotopup_currency": "cf1023ef630a4096c4938d2d310866c091223ea815102715a5b2652c9df412b6",
  "0026_i16user_depleted_once": "7f7998e3c798722a65e36ea08a452ddc102d29ae6625249c8865312dbf20ca83",
  "0027_refunds_refund_reversal": "be3892cd570eda22404659943fd0027aaea2fefdcc2658a08cb7a713fba5a09f",
  "0028_topup16_card_removed_at": "e28d673f4fc5994e35197cea85fd0ad724dadc9108001dbd1d8914f8c86ebd86",
  "0029_payment_refunds_user_idx": "54f1ea05f163de199a6fff159c7fa97b8a624f08fcb8881c9963d5d59057ad8e",
  "0030_caps16_autotopup_attempt_price": "88e4aa0466046198032db8941fd3310cb0d47d66727aeab44a431bbcfcf09889",
  "0031_topup16_card_to_detach": "9b055432a114e07bb2e3d1c593774b9ddc4006d3abd7fc6fb0939b64b7f674a7",
  "0032_promo15_paid_nothing": "81edfcb2985f996b4c738161d01e68e7450fb79f527eeaa09e28be2b4c4db67b",
  "0033_promo15_refunds_processing_idx": "cfe65fac89571290c38de068c7048996d4a663917647c1028e731353c316f0f3",
  "0034_topup16_attempt_credit_expiry": "d17f4e5a6292590a00e45aa0ec4a8e137c7fe8ec44c57a75740f386425ce3ca4",
  "0035_topup16_cards_to_detach": "2e17e38123c7a9a041db15ee47c0ce817ba4cf8c9e06d625886417509b819768",
  "0036_promo15_revenue_paid": "ccaed86f8d6552398ca1e67c4c6c5337f94b150cbb65fe30e9be43f4962b2a76",
  "0037_recon17_ledger_flags_acks": "9a2972d3ba1c2940685b7882e790851174c362147976044d94355baade512714",
  "0038_promo15_revenue_net_of_tax_disputes": "a203f7527987ec1112c13e15621b563e98dec77e8dcceb3354d9a55d4322452d",
  "0039_erase18_customers_to_delete": "1cf4fd5832d35630cf170c3f3378aeb52fc9e7675b3b4f64c66624945a41d522",
  "0040_promo15_dispute_amount_revenue": "4ed10e00a847b0e1628e1e65a4ee6472354d6e3faafeee3641073d64f7e79ac2",
  "0041_recon17c_ledger_anchor_covering": "b55f5db970067fb859c630c3c65e7e703be1305c7474d7eb849f06573f69234c",
  "0042_erase19_erasure_tasks": "673198e1267785ef33bfd5924addfcdb94e1499a879bb80ab770339b3c9da157",
  "0043_ack17_break_requests": "902f8a7a677758fc05d48412a751b7f60f28a8b8df3a84b52ff8d090ba847ede",
  "0044_alloc28_restore_one_row_per_grant": "e2355b06155a8cd5dcb5974be1e8cea623d9d9f612ee13825a1f30c8b247c061",
  "0045_search17_users_newest": "74c934aff91798ed7cd4d19a48e05dd0d19d893b6fe100cc52d222755aaea7da",
  "0046_hold22_clawback_release_own_grants": "b3a815e3b53eadf3a073e2260bf72bc6cb8bb5e76e98c2b834ac39e731d607bb",
  "0047_review10_refund_counted": "3a61c26e66244bd3069bb65da8bd17691cb586c292f8e2c1a08f1aa7f5501e0d",
  "0048_price15_packs_awaiting_approval": "968be6aa78a5348ec70876f7c9151cae066ab498b83e589a7f32f5a5e743483f",
  "0049_reversal11_payment_grants_last": "8527dabfe05d05d235cf7f77ae445d48814f8f7df2dd00a7cc38e1268816545f",
  "0050_hold10_expiry_settles": "63aaf334b39e0a4b4e45528521af8252f777dcca0a9edea6bf3ed7299c346380",
};

describe("migration integrity", () => {
  it("every committed migration is the file it was when it was first applied", () => {
    const files = Object.fromEntries(migrationFiles(folder).map((file) => [file.tag, file.hash]));
    expect(files).toEqual(PINNED);
  });

  // drizzle's migrator applies only the migrations whose journal `when` is above the newest one the
  // database recorded: a migration renumbered on a rebase but keeping a `when` equal to (or below)
  // one already applied would be skipped in silence on every database that ran the other.
  it("the journal numbers its migrations in order, each `when` above the one before", () => {
    const files = migrationFiles(folder);
    files.forEach((file, index) => {
      expect(file.tag.slice(0, 4)).toBe(String(index).padStart(4, "0"));
      if (index > 0) expect(file.when).toBeGreaterThan(files[index - 1]?.when ?? Number.POSITIVE_INFINITY);
    });
  });

  // The test database's own migration record, with one hash replaced for the length of `check`.
  async function withRecordedHash(tag: string, hash: string, check: () => Promise<void>) {
    const file = migrationFiles(folder).find((candidate) => candidate.tag === tag);
    if (!file) throw new Error(`no migration ${tag}`);
    const record = sql`UPDATE drizzle.__drizzle_migrations SET hash = ${hash} WHERE created_at = ${file.when}`;
    await testDb.db.execute(record);
    try {
      await check();
    } finally {
      await testDb.db.execute(
        sql`UPDATE drizzle.__drizzle_migrations SET hash = ${file.hash} WHERE created_at = ${file.when}`,
      );
    }
  }

  it("a database refuses to migrate when an applied migration's file changed, naming the file", async () => {
    await withRecordedHash("0002_payment_transition_order", "edited", async () => {
      const refused = await testDb.migrate().catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ChangedMigrationError);
      expect(String(refused)).toContain("drizzle/0002_payment_transition_order.sql");
    });
    await expect(testDb.migrate()).resolves.toBeUndefined();
  });

  it("accepts the first version of 0003, which 0006 supersedes", async () => {
    const first = "cb15ecb5539a3af548599d4cb866d439f9dd8aac503aa608862d20a02de205fb";
    await withRecordedHash("0003_ledger_batch_posting", first, async () => {
      await expect(testDb.migrate()).resolves.toBeUndefined();
      expect(await testDb.migrationsApplied()).toBe(true);
    });
  });

  // Released in two texts each (stops 27 and 28); both create the same objects.
  it.each([
    ["0038_promo15_revenue_net_of_tax_disputes", "65bb693fd5e521c141f14cf0a4e7acf6b84b3e85d0b087bd5c199c9ac06c6136"],
    ["0042_erase19_erasure_tasks", "8720d66371c251cccae9350dbfe353734aa6173c624278811eddffbcdb4ba416"],
  ])("accepts a database that ran the other released text of %s", async (tag, other) => {
    await withRecordedHash(tag, other, async () => {
      await expect(testDb.migrate()).resolves.toBeUndefined();
      expect(await testDb.migrationsApplied()).toBe(true);
    });
  });
});
