import { fileURLToPath } from "node:url";
import { vitePlugin as remix } from "@remix-run/dev";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig, type Plugin } from "vite";

declare module "@remix-run/server-runtime" {
  interface Future {
    v3_singleFetch: true;
  }
}

export default defineConfig({
  // The server starts Vite from the repository root: pin the app's own directory.
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [
    serverExternal(["@credits/api"]),
    tailwindcss(),
    remix({
      future: {
        v3_fetcherPersist: true,
        v3_relativeSplatPath: true,
        v3_throwAbortReason: true,
        v3_singleFetch: true,
        v3_lazyRouteDiscovery: true,
        unstable_optimizeDeps: true,
      },
    }),
  ],
  server: {
    fs: {
      // Vite's dev server reads files of the whole repository (/@fs/...): never the embedded
      // database (./.data), dotfiles (.env, .npmrc, ...), git or key material. Vite's own defaults
      // are repeated because this list replaces them.
      deny: [".env", ".env.*", ".*", "*.{crt,pem,key}", "**/.git/**", "**/.data/**"],
    },
  },
  // Development: Vite's module runner leaves it to Node (see serverExternal for the build).
  ssr: { external: ["@credits/api"] },
  // The dependency scan must not crawl the server's code behind the router either: it would try
  // to pre-bundle server-only packages for the browser (@node-rs/argon2 has no browser build).
  optimizeDeps: { exclude: ["@credits/api"] },
});

// The shared router is loaded by Node at run time, never bundled: the app must share the
// server's module instances (its Services, its error classes), not carry copies of them.
// (`ssr.external` alone does not do it for the build: Vite does not externalize a package
// whose entry is .ts.)
function serverExternal(packages: string[]): Plugin {
  return {
    name: "credits:server-external",
    apply: "build",
    enforce: "pre",
    resolveId(id, _importer, options) {
      if (options?.ssr && packages.includes(id)) return { id, external: true };
      return null;
    },
  };
}
