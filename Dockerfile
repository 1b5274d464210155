# The server image. Docker does not run on the development machines of this project, so this file
# is kept plain; see README "Docker". Node 24 runs the TypeScript sources directly (type
# stripping); only the web app has a build step.
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN npm install --global pnpm@10
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY apps/server/package.json apps/server/
COPY apps/web/package.json apps/web/
COPY apps/e2e/package.json apps/e2e/
COPY packages/api/package.json packages/api/
COPY packages/client/package.json packages/client/
COPY packages/core/package.json packages/core/
COPY packages/db/package.json packages/db/
COPY packages/env/package.json packages/env/
COPY packages/observability/package.json packages/observability/
COPY packages/stripe/package.json packages/stripe/
COPY scripts/package.json scripts/
RUN pnpm install --frozen-lockfile
COPY . .
# Production dependencies only in the image: the build tools stay behind.
RUN pnpm build && CI=true pnpm install --frozen-lockfile --prod

FROM node:24-bookworm-slim
# The server binds loopback by default; in a container it must listen on every interface.
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app /app
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:3000/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# As `pnpm start`: the heap limits of ADR 007, then tracing before the app (spans are exported only
# when OTEL_EXPORTER_OTLP_ENDPOINT is set).
CMD ["node", "--max-semi-space-size=16", "--max-old-space-size=512", "--import", "./packages/observability/src/tracing.ts", "apps/server/src/main.ts"]
