// The Stripe test kit other packages' tests and scripts import (`@credits/stripe/testing`):
// signed events and stripe-mock fixtures, and the msw fake of Stripe's API, in process or over HTTP.
export * from "./fixtures/stripe-events.ts";
export * from "./msw/serve-http.ts";
export * from "./msw/servers.ts";
export * from "./msw/stripe-handlers.ts";
