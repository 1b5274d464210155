// The web app's own build step (it knows its sources): run once before the browser tests.
export { default } from "@credits/web/testing";
