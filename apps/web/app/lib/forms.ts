// Form input checks shared by actions: they run on the server (the forms work without
// JavaScript), and give messages a person can act on, next to the field they concern.

import { MAX_EMAIL_LENGTH, PASSWORD_LENGTH } from "@credits/api/limits";

export const PASSWORD_MIN = PASSWORD_LENGTH.min;
export const PASSWORD_MAX = PASSWORD_LENGTH.max;

export function textField(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === "string" ? value : "";
}

export function checkEmail(email: string): string | undefined {
  if (!email) return "Enter your email address.";
  if (email.length > MAX_EMAIL_LENGTH || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email))
    return "Enter a valid email address.";
  return undefined;
}

export function checkNewPassword(password: string): string | undefined {
  if (!password) return "Choose a password.";
  if (password.length < PASSWORD_MIN) return `Use at least ${PASSWORD_MIN} characters.`;
  if (password.length > PASSWORD_MAX) return `Use at most ${PASSWORD_MAX} characters.`;
  return undefined;
}
