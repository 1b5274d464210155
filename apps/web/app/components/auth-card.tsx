import type { ReactNode } from "react";
import { PASSWORD_MIN } from "../lib/forms.ts";
import { Field } from "./ui.tsx";

export function AuthCard({
  title,
  subtitle,
  children,
  footer,
}: {
  title: string;
  subtitle?: string;
  children: ReactNode;
  footer?: ReactNode;
}) {
  return (
    <div className="mx-auto w-full max-w-md pt-2 sm:pt-8">
      <div className="rounded-2xl border border-slate-200 bg-white px-5 py-8 shadow-sm sm:px-8">
        <h1 className="text-2xl font-bold tracking-tight text-slate-900">{title}</h1>
        {subtitle ? <p className="mt-1 text-slate-600">{subtitle}</p> : null}
        <div className="mt-6">{children}</div>
      </div>
      {footer ? <p className="mt-6 text-center text-sm text-slate-600">{footer}</p> : null}
    </div>
  );
}

// The email and password of every sign-in form: a new password (sign-up, first admin) says its
// rule and lets the browser suggest one; an existing one lets the browser fill it.
export function CredentialFields({
  email,
  errors,
  newPassword = false,
}: {
  email: string | undefined;
  errors: { email?: string; password?: string };
  newPassword?: boolean;
}) {
  return (
    <>
      <Field
        label="Email"
        name="email"
        type="email"
        autoComplete="email"
        required
        defaultValue={email}
        error={errors.email}
      />
      <Field
        label="Password"
        name="password"
        type="password"
        autoComplete={newPassword ? "new-password" : "current-password"}
        required
        {...(newPassword ? { minLength: PASSWORD_MIN, hint: `At least ${PASSWORD_MIN} characters.` } : {})}
        error={errors.password}
      />
    </>
  );
}
