export * from "./dispatcher.ts";
export * from "./templates.ts";
