import type { Api } from "./api.server.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string) => UUID.test(value);

// Emails for a handful of user ids (approvals and the audit log show people, not uuids).
export async function emailsFor(api: Api, ids: (string | null)[]): Promise<Record<string, string>> {
  const unique = [...new Set(ids.filter((id): id is string => Boolean(id)))].slice(0, 100);
  const entries = await Promise.all(
    unique.map(async (id) => {
      try {
        const { user } = await api.caller.admin.user({ userId: id });
        return [id, user.email ?? (user.erased ? "erased user" : id)] as const;
      } catch {
        return [id, id] as const;
      }
    }),
  );
  return Object.fromEntries(entries);
}

export const DATE = /^\d{4}-\d{2}-\d{2}$/;
export function validDate(value: string): boolean {
  if (!DATE.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}
