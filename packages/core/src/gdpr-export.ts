// What an export starts from, read in one statement: the profile, the balance, and the seq of the
// newest ledger row that balance includes (a user's postings commit in seq order, so the ledger
// pages up to it add up to exactly this balance). Sessions and keys are few per user.
export interface ExportHead {
  profile: { id: string; email: string | null; name: string | null; role: string; createdAt: Date };
  balance: number;
  lastSeq: number;
  sessions: { createdAt: Date; expiresAt: Date }[];
  apiKeys: { id: string; name: string; prefix: string; scopes: string[]; createdAt: Date; revokedAt: Date | null }[];
  // Null when the user never chose. Whether a card is saved, never which: the PaymentMethod and
  // the customer are the provider's, and nothing more of the card (brand, last 4) is stored.
  autoTopUp: {
    enabled: boolean;
    threshold: number;
    packageId: string;
    cardSaved: boolean;
    consecutiveFailures: number;
    disabledReason: string | null;
    updatedAt: Date;
  } | null;
}

// The sections read page by page (keyset: each page one bounded statement).
// refunds: those of the user's payments, requested (pending) to settled, without the provider's
// refund id, the key or the admins who asked and decided.
export const EXPORT_SECTIONS = ["payments", "refunds", "ledger", "holds", "autoTopUpAttempts"] as const;
export type ExportSection = (typeof EXPORT_SECTIONS)[number];

// The export document written piece by piece: never more than one page of rows in memory, and the
// closing brace only after the last page, so a document cut short by an error does not parse.
// Dates become ISO strings (their toJSON), everything else goes as stored.
export async function* exportChunks(
  exportedAt: string,
  head: ExportHead,
  pages: (section: ExportSection) => AsyncIterable<Record<string, unknown>[]>,
): AsyncGenerator<string> {
  yield `{"exportedAt":${JSON.stringify(exportedAt)},"profile":${JSON.stringify(head.profile)},"balance":${JSON.stringify(head.balance)}`;
  for (const section of EXPORT_SECTIONS) {
    let separator = "\n";
    yield `,${JSON.stringify(section)}:[`;
    for await (const rows of pages(section)) {
      if (rows.length === 0) continue;
      yield separator + rows.map((row) => JSON.stringify(row)).join(",\n");
      separator = ",\n";
    }
    yield "]";
  }
  yield `,"sessions":${JSON.stringify(head.sessions)},"apiKeys":${JSON.stringify(head.apiKeys)}`;
  yield `,"autoTopUp":${JSON.stringify(head.autoTopUp)}}\n`;
}
