// The bounds the API enforces, for forms that check them before a call (the web app's pages,
// bundled for the browser too): plain constants, nothing else of the API.
export * from "@credits/core/limits";
