// The optional grant terms of the admin adjust form: a category and an expiry date. An empty
// field leaves the server's default (an adjustment, never expiring).
import { type GrantCategory, grantCategoryLabels } from "./format.ts";
import { textField } from "./forms.ts";

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface GrantTermsForm {
  terms: { category?: GrantCategory; expiresAt?: string };
  errors: Partial<Record<"category" | "expiresAt", string>>;
}

const isCategory = (value: string): value is GrantCategory => Object.hasOwn(grantCategoryLabels, value);

export function grantTermsFromForm(form: FormData): GrantTermsForm {
  const category = textField(form, "category");
  const expiresOn = textField(form, "expiresOn").trim();
  const result: GrantTermsForm = { terms: {}, errors: {} };
  if (category) {
    if (isCategory(category)) result.terms.category = category;
    else result.errors.category = "Choose a category from the list.";
  }
  if (expiresOn) {
    // The credits last through the whole day chosen (UTC, as every date on these pages).
    const end = new Date(`${expiresOn}T23:59:59.999Z`);
    if (!DATE.test(expiresOn) || Number.isNaN(end.getTime()))
      result.errors.expiresAt = "Enter a date, e.g. 2027-03-31.";
    else result.terms.expiresAt = end.toISOString();
  }
  return result;
}
