// Currencies and the formatting of amounts, for pages that show money (the web app's, bundled for
// the browser too): the core's one table and formatter, nothing else of the API.
export * from "@credits/core/money";
