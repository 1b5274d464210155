import { MAX_API_KEY_CALLS_PER_DAY, MAX_API_KEY_CREDITS_PER_DAY } from "@credits/api/limits";
import { Field } from "./ui.tsx";

// Optional per-key limits per UTC day, set when a key is made (the API enforces them).
export const limitFields = [
  { name: "grantCreditsPerDay", label: "Credits granted", max: MAX_API_KEY_CREDITS_PER_DAY },
  { name: "grantCallsPerDay", label: "Grants", max: MAX_API_KEY_CALLS_PER_DAY },
  { name: "spendCreditsPerDay", label: "Credits spent", max: MAX_API_KEY_CREDITS_PER_DAY },
  { name: "spendCallsPerDay", label: "Spends", max: MAX_API_KEY_CALLS_PER_DAY },
] as const;

export type LimitName = (typeof limitFields)[number]["name"];
export type Limits = Record<LimitName, number | null>;
export type LimitValues = Partial<Record<LimitName, string>>;

// Empty is no limit; anything else must be a whole number from 1 to what the API accepts.
export function parseLimitFields(form: FormData): {
  limits: Partial<Record<LimitName, number>>;
  values: LimitValues;
  error?: string;
} {
  const limits: Partial<Record<LimitName, number>> = {};
  const values: LimitValues = {};
  let error: string | undefined;
  for (const field of limitFields) {
    const raw = form.get(field.name);
    const value = typeof raw === "string" ? raw.trim().replace(/[,\s_]/g, "") : "";
    values[field.name] = value;
    if (value === "") continue;
    if (!/^\d{1,16}$/.test(value) || Number(value) < 1 || Number(value) > field.max) {
      error = `“${field.label}” must be a whole number from 1 to ${field.max.toLocaleString("en")}, or empty for no limit.`;
      continue;
    }
    limits[field.name] = Number(value);
  }
  return { limits, values, ...(error ? { error } : {}) };
}

export function LimitInputs({ values, error }: { values?: LimitValues | undefined; error?: string | undefined }) {
  return (
    <fieldset aria-describedby={error ? "limits-error" : "limits-hint"}>
      <legend className="text-sm font-medium text-slate-800">Limits per day (optional)</legend>
      <p id="limits-hint" className="mt-1 text-sm text-slate-500">
        Per UTC day; empty means no limit. Holds count as spends. Above a limit the key gets 429 until midnight UTC.
      </p>
      <div className="mt-2 grid grid-cols-2 gap-3">
        {limitFields.map((field) => (
          <Field
            key={field.name}
            label={field.label}
            name={field.name}
            inputMode="numeric"
            placeholder="No limit"
            defaultValue={values?.[field.name]}
          />
        ))}
      </div>
      {error ? (
        <p id="limits-error" className="mt-2 text-sm font-medium text-rose-700">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

// "Per day: 500 credits granted, 10 spends", or "No limits".
export function describeLimits(limits: Limits): string {
  const parts = limitFields
    .filter((field) => limits[field.name] !== null)
    .map((field) => `${(limits[field.name] ?? 0).toLocaleString("en")} ${field.label.toLowerCase()}`);
  return parts.length ? `Per day: ${parts.join(", ")}` : "No limits";
}
