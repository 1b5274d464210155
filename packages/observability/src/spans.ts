import {
  type Attributes,
  context,
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { redactText } from "./redact.ts";

// Manual spans. Only @opentelemetry/api here: without an SDK registered (the CLI, a unit test)
// these are no-ops, and nothing below knows which exporter, if any, receives them.

const TRACER_NAME = "@credits/server";
const tracer = () => trace.getTracer(TRACER_NAME);

// With no SDK registered there is nothing to record: fn runs at once with a span that ignores
// what it is told, without the no-op tracer's span and context switch (pnpm bench: a few percent
// of a spend's CPU on a server started without the tracing preload).
const IGNORED_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
function tracing(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer(TRACER_NAME) !== undefined;
}

// Runs fn inside a new active span (child of the current one). The span ends when fn's result
// settles; a thrown error marks it as failed (name and redacted message only) and is rethrown.
export function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => T): T {
  if (!tracing()) return fn(IGNORED_SPAN);
  return tracer().startActiveSpan(name, { attributes }, (span) => {
    let result: T;
    try {
      result = fn(span);
    } catch (error) {
      fail(span, error);
      span.end();
      throw error;
    }
    if (!isPromiseLike(result)) {
      span.end();
      return result;
    }
    return Promise.resolve(result).then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        fail(span, error);
        span.end();
        throw error;
      },
    ) as T;
  });
}

function fail(span: Span, error: unknown) {
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  span.setAttribute("error.type", name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: redactText(message).slice(0, 200) });
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

// Adds to the span that is active now (the HTTP server span, inside a request), if any.
export function annotateActiveSpan(attributes: Attributes, name?: string) {
  const span = trace.getActiveSpan();
  if (!span) return;
  span.setAttributes(attributes);
  if (name) span.updateName(name);
}

// Arguments worth a span attribute: identifiers and amounts, never names, emails or reasons.
const ARGUMENT_ATTRIBUTES: Record<string, string> = {
  userId: "app.user_id",
  amount: "app.credits",
  holdId: "app.hold_id",
  paymentId: "app.payment_id",
  packageId: "app.package_id",
  kind: "app.kind",
  trigger: "app.trigger",
  scheduledFor: "app.scheduled_for",
};

function argumentAttributes(args: unknown[]): Attributes {
  const attributes: Attributes = {};
  for (const arg of args) {
    if (arg === null || typeof arg !== "object") continue;
    for (const [key, attribute] of Object.entries(ARGUMENT_ATTRIBUTES)) {
      const value = (arg as Record<string, unknown>)[key];
      if (typeof value === "string" || typeof value === "number") attributes[attribute] = value;
    }
  }
  return attributes;
}

// A service whose every method runs in a span named `<prefix>.<method>`. Applied at composition
// (packages/api/src/services.ts) so the domain code stays free of tracing.
export function traced<T extends object>(prefix: string, service: T): T {
  // Keyed by the function itself: a method replaced later (a test's spy) is wrapped afresh.
  const wrapped = new WeakMap<object, unknown>();
  return new Proxy(service, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || typeof property !== "string") return value;
      let wrapper = wrapped.get(value);
      if (!wrapper) {
        const method = value as (...args: unknown[]) => unknown;
        wrapper = (...args: unknown[]) =>
          !tracing()
            ? method.apply(target, args)
            : withSpan(
                `${prefix}.${property}`,
                { "code.function.name": `${prefix}.${property}`, ...argumentAttributes(args) },
                () => method.apply(target, args),
              );
        wrapped.set(value, wrapper);
      }
      return wrapper;
    },
  });
}

// An async iterable whose whole iteration is one span; the iterations' own work (an SDK's page
// requests) runs inside it, so their spans are its children.
export function tracedIterable<T>(name: string, attributes: Attributes, source: AsyncIterable<T>): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      const span = tracer().startSpan(name, { attributes });
      const spanContext = trace.setSpan(context.active(), span);
      const iterator = context.with(spanContext, () => source[Symbol.asyncIterator]());
      let count = 0;
      try {
        while (true) {
          const next = await context.with(spanContext, () => iterator.next());
          if (next.done) break;
          count += 1;
          yield next.value;
        }
      } catch (error) {
        fail(span, error);
        throw error;
      } finally {
        span.setAttribute("app.items", count);
        // Stops the source early when the consumer did (break, throw); harmless once it is done.
        await Promise.resolve(iterator.return?.()).catch(() => undefined);
        span.end();
      }
    },
  };
}
