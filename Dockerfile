# deadlockd sidecar image: the daemon only (no dev dependencies), non-root.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY proto/package.json proto/
COPY server/package.json server/
COPY client-sdk/node/package.json client-sdk/node/
COPY test/package.json test/
COPY bench/package.json bench/
COPY examples/package.json examples/
RUN npm ci --no-audit --no-fund
COPY proto proto
COPY server server
RUN npx tsc -b proto server

FROM node:20-bookworm-slim
ENV NODE_ENV=production DEADLOCKD_HOST=0.0.0.0 DEADLOCKD_PORT=7070
WORKDIR /app
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY server/package.json server/
COPY client-sdk/node/package.json client-sdk/node/
COPY test/package.json test/
COPY bench/package.json bench/
COPY examples/package.json examples/
RUN npm ci --omit=dev --no-audit --no-fund -w proto -w server && npm cache clean --force
COPY --from=build /app/proto/dist proto/dist
COPY --from=build /app/proto/schema proto/schema
COPY --from=build /app/server/dist server/dist
COPY server/dashboard-assets server/dashboard-assets
USER node
EXPOSE 7070
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.DEADLOCKD_PORT||7070)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--enable-source-maps", "server/dist/src/cli.js"]
