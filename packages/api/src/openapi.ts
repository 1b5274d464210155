import { generateOpenApiDocument } from "trpc-to-openapi";
import { appRouter } from "./root.ts";

export function openApiDocument(baseUrl: string) {
  return generateOpenApiDocument(appRouter, {
    title: "Credits API",
    version: "1.0.0",
    baseUrl,
    description: "Prepaid credits: balances, spending, holds and purchases. Errors are { error: { code, message } }.",
    securitySchemes: {
      apiKey: { type: "http", scheme: "bearer", description: "An API key created by an admin or the CLI" },
    },
  });
}
