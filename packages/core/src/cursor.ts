import { InvalidInputError } from "./errors.ts";

// Opaque keyset cursor: the ledger sequence number of the last row seen. Stable under concurrent
// inserts, unlike an offset.
export interface Cursor {
  seq: number;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`v1:${cursor.seq}`).toString("base64url");
}

export function decodeCursor(raw: string): Cursor {
  const match = /^v1:(\d{1,15})$/.exec(Buffer.from(raw, "base64url").toString("utf8"));
  if (!match?.[1]) throw new InvalidInputError("invalid cursor");
  return { seq: Number(match[1]) };
}
