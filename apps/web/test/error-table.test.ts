// The web app's one error table: what a failed call says on each form, by the API's public error
// code (the one REST clients see), with validation errors kept next to their fields.
import type { PublicError } from "@credits/api";
import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import { errorPage, explainFailure, formFailure } from "../app/lib/errors.server.ts";
import { PASSWORD_MAX, PASSWORD_MIN } from "../app/lib/forms.ts";

const failure = (appCode: string, httpStatus: number, extra: Partial<PublicError> = {}): PublicError => ({
  appCode,
  httpStatus,
  message: `${appCode} from the API`,
  ...extra,
});

describe("the error table", () => {
  it("words a form's known codes, with the API's status", () => {
    expect(explainFailure(failure("UNAUTHENTICATED", 401), "logIn")).toEqual({
      status: 401,
      errors: { form: "That email and password don't match an account." },
    });
    expect(explainFailure(failure("ALREADY_EXISTS", 409), "signUp")).toEqual({
      status: 409,
      errors: { email: "An account with this email already exists. Log in instead?" },
    });
    expect(explainFailure(failure("INSUFFICIENT_CREDITS", 402), "report")?.errors.form).toMatch(/^Not enough credits/);
  });

  it("says how long to wait when rate limited", () => {
    const soon = explainFailure(failure("RATE_LIMITED", 429, { retryAfterSeconds: 42 }), "logIn");
    expect(soon).toEqual({ status: 429, errors: { form: "Too many attempts. Try again in 42 seconds." } });
    const later = explainFailure(failure("RATE_LIMITED", 429, { retryAfterSeconds: 600 }), "deleteAccount");
    expect(later?.errors.form).toBe("Too many attempts. Try again in 10 min.");
  });

  it("keeps validation errors on their fields: the API's words, or the form's own", () => {
    const invalid = failure("INVALID_INPUT", 400, { fieldErrors: { amount: ["Too big", "Not whole"], other: ["x"] } });
    expect(explainFailure(invalid, "adjust")).toEqual({ status: 400, errors: { amount: "Too big" } });
    const signUp = failure("INVALID_INPUT", 400, { fieldErrors: { password: ["Too small"] } });
    expect(explainFailure(signUp, "signUp")?.errors).toEqual({
      password: `Use ${PASSWORD_MIN} to ${PASSWORD_MAX} characters.`,
    });
    // No field named: the API's message for the whole form.
    expect(explainFailure(failure("INVALID_INPUT", 400), "erase")?.errors).toEqual({
      form: "INVALID_INPUT from the API",
    });
  });

  it("tells a resent adjustment whose request was decided from one sent with other values", () => {
    const message = (text: string) => explainFailure(failure("IDEMPOTENCY_CONFLICT", 409, { message: text }), "adjust");
    const rejected = message("adjustment request 5c1e… under this idempotency key was rejected");
    expect(rejected?.errors.form).toBe("This form was already sent and its request was rejected: nothing was changed.");
    const expired = message("adjustment request 5c1e… under this idempotency key expired undecided");
    expect(expired?.errors.form).toBe(
      "This form was already sent and its request expired undecided: nothing was changed.",
    );
    expect(message("this idempotency key was already used with different parameters")?.errors.form).toMatch(
      /already sent with other values/,
    );
  });

  it("reads a call's failure as the API reports it", () => {
    const refused = formFailure(new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" }), "logIn");
    expect(refused).toEqual({ status: 401, errors: { form: "That email and password don't match an account." } });
  });

  it("makes a page of a failure no form explains: its status for a 4xx, the 500 page otherwise", () => {
    const missing = errorPage(new TRPCError({ code: "NOT_FOUND", message: "user not found" }));
    expect(missing?.init?.status).toBe(404);
    expect(errorPage(new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "boom" }))).toBeNull();
  });

  it("leaves a code the form does not list, or anything that is not a call's failure, to the page", () => {
    expect(explainFailure(failure("FORBIDDEN", 403), "logIn")).toBeNull();
    expect(formFailure(new Error("a bug"), "logIn")).toBeNull();
    expect(errorPage(new Error("a bug"))).toBeNull();
  });
});
