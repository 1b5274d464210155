import { MAX_CURSOR_LENGTH } from "@credits/api/limits";

// The API's page cursors are opaque base64url (core's one codec) no longer than it accepts. A page
// passes one on only if it looks like one, so a mangled URL shows the first page, not an error.
const CURSOR = new RegExp(`^[\\w-]{1,${MAX_CURSOR_LENGTH}}$`);

export const isPageCursor = (value: string): boolean => CURSOR.test(value);

export const pageCursor = (value: string | null): string | null => (value && isPageCursor(value) ? value : null);
