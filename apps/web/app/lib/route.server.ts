import { type ActionFunctionArgs, data, type LoaderFunctionArgs, redirect } from "@remix-run/node";
import { type Api, apiFor } from "./api.server.ts";
import { errorPage } from "./errors.server.ts";

// Every route's loader and action goes through one of these wrappers. It gives the handler the
// request's api (the router's caller and the session), and sends the session cookie's changes
// with whatever comes out: returned data, a returned or thrown redirect, a thrown Response (an
// error page). A cookie refreshed by the sliding expiry is never dropped by one forgotten return.
// A failed call the handler leaves alone becomes an error page through the error table.

type SessionUser = NonNullable<Awaited<ReturnType<Api["session"]>>>["user"];

export interface RouteArgs {
  request: Request;
  context: LoaderFunctionArgs["context"];
  params: LoaderFunctionArgs["params"];
  api: Api;
}
export interface UserRouteArgs extends RouteArgs {
  user: SessionUser;
}

type Handler<Args, Result> = (args: Args) => Promise<Result>;
type RouteFunction<Result> = (args: LoaderFunctionArgs | ActionFunctionArgs) => Promise<Result>;

// Anyone, signed in or not.
export function route<Result>(handler: Handler<RouteArgs, Result>): RouteFunction<Result> {
  return wrap(handler);
}

// Pages behind the log-in: anyone else goes to the log-in page, which comes back here.
export function userRoute<Result>(handler: Handler<UserRouteArgs, Result>): RouteFunction<Result> {
  return wrap(async (args) => handler({ ...args, user: await requireUser(args) }));
}

// Admins only. The router's admin procedures are the real gate; this answers everyone else with
// a 403 page before any admin data is asked for. Every admin route uses it (nested loaders run in
// parallel, so the layout's check alone would not stop a child's).
export function adminRoute<Result>(handler: Handler<UserRouteArgs, Result>): RouteFunction<Result> {
  return wrap(async (args) => {
    const user = await requireUser(args);
    if (user.role !== "admin") throw data("admins only", { status: 403 });
    return handler({ ...args, user });
  });
}

function wrap<Result>(handler: Handler<RouteArgs, Result>): RouteFunction<Result> {
  return async ({ request, context, params }) => {
    const api = apiFor(request, context);
    let result: Result;
    try {
      result = await handler({ request, context, params, api });
    } catch (thrown) {
      const page = errorPage(thrown);
      if (page) throw withCookies(page, api.cookies());
      throw withCookies(thrown, api.cookies());
    }
    if (result instanceof Response || isData(result)) return withCookies(result, api.cookies());
    // Plain data: Remix serializes data(x) as it would x, so the page's types are unchanged.
    const cookies = api.cookies();
    if (cookies.length === 0) return result;
    return data(result, { headers: setCookies(new Headers(), cookies) }) as Result;
  };
}

async function requireUser({ request, api }: RouteArgs): Promise<SessionUser> {
  const session = await api.session();
  if (session) return session.user;
  const url = new URL(request.url);
  throw redirect(`/login?redirectTo=${encodeURIComponent(`${url.pathname}${url.search}`)}`);
}

// A Response or Remix's data() gets the cookies; anything else (an unexpected error, which becomes
// a 500 page) carries no headers of its own to add them to.
function withCookies<T>(value: T, cookies: string[]): T {
  if (cookies.length === 0) return value;
  if (value instanceof Response) setCookies(value.headers, cookies);
  else if (isData(value))
    value.init = { ...value.init, headers: setCookies(new Headers(value.init?.headers), cookies) };
  return value;
}

function setCookies(headers: Headers, cookies: string[]): Headers {
  const present = new Set(headers.getSetCookie());
  for (const cookie of cookies) if (!present.has(cookie)) headers.append("Set-Cookie", cookie);
  return headers;
}

type Data = ReturnType<typeof data<unknown>>;
// Remix's own test for data() (its class is not exported).
function isData(value: unknown): value is Data {
  return typeof value === "object" && value !== null && (value as { type?: unknown }).type === "DataWithResponseInit";
}
