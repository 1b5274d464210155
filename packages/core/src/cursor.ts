import { InvalidInputError } from "./errors.ts";

// The one codec of keyset cursors: a tagged position, base64url, opaque to clients. Stable under
// concurrent inserts, unlike an offset.

// A position in a user's ledger: the sequence number of the last row seen.
export interface Cursor {
  seq: number;
}

// A position in a list ordered by time, ties broken by id (audit log, reconciliation runs and
// findings).
export interface TimeCursor {
  at: Date;
  id: string;
}

const encode = (text: string) => Buffer.from(text).toString("base64url");

function decode(raw: string, pattern: RegExp): string[] {
  const match = pattern.exec(Buffer.from(raw, "base64url").toString("utf8"));
  if (!match) throw new InvalidInputError("invalid cursor");
  return match.slice(1);
}

export function encodeCursor(cursor: Cursor): string {
  return encode(`v1:${cursor.seq}`);
}

export function decodeCursor(raw: string): Cursor {
  const [seq] = decode(raw, /^v1:(\d{1,15})$/);
  return { seq: Number(seq) };
}

export function encodeTimeCursor(cursor: TimeCursor): string {
  return encode(`t1:${cursor.at.getTime()}:${cursor.id}`);
}

export function decodeTimeCursor(raw: string): TimeCursor {
  const [at, id] = decode(raw, /^t1:(\d{1,15}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/);
  return { at: new Date(Number(at)), id: id ?? "" };
}
