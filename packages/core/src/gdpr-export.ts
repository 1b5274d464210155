// What an export starts from, read in one statement: the profile, the balance, and the seq of the
// newest ledger row that balance includes (a user's postings commit in seq order, so the ledger
// pages up to it add up to exactly this balance). Sessions and keys are few per user.
export interface ExportHead {
  profile: { id: string; email: string | null; name: string | null; role: string; createdAt: Date };
  balance: number;
  lastSeq: number;
  sessions: { createdAt: Date; expiresAt: Date }[];
  apiKeys: { id: string; name: string; prefix: string; scopes: string[]; createdAt: Date; revokedAt: Date | null }[];
}

// The sections read page by page (keyset: each page one bounded statement).
export const EXPORT_SECTIONS = ["payments", "ledger", "holds"] as const;
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
  yield `,"sessions":${JSON.stringify(head.sessions)},"apiKeys":${JSON.stringify(head.apiKeys)}}\n`;
}
