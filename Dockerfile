# tradeguard container image. Two stages: the build stage compiles TypeScript with the dev dependencies; the runtime
# stage is a production install (`npm ci --omit=dev`) of the compiled dist/, run as an unprivileged user.
#   docker build -t tradeguard .
#   docker run --env-file tradeguard.env -e REDIS_URL=redis://redis:6379 -p 3000:3000 tradeguard
# Local HA try-out (Redis primary + replica + 3 Sentinels + 2 bot replicas): deploy/compose.yaml.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages/gate/package.json ./packages/gate/
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY packages/gate/tsconfig.json ./packages/gate/
COPY packages/gate/src ./packages/gate/src
COPY src ./src
# Project references: the gate package (packages/gate/dist) first, then the bot (dist).
RUN npx tsc -b tsconfig.build.json

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    TRADEGUARD_HOME=/var/lib/tradeguard \
    HOST=0.0.0.0 \
    PORT=3000
RUN groupadd --system --gid 10001 tradeguard \
 && useradd --system --uid 10001 --gid tradeguard --home-dir /var/lib/tradeguard --shell /usr/sbin/nologin tradeguard \
 && install -d -m 0700 -o tradeguard -g tradeguard /var/lib/tradeguard
WORKDIR /opt/tradeguard
COPY package.json package-lock.json ./
COPY packages/gate/package.json ./packages/gate/
COPY scripts/prepare.mjs scripts/healthcheck.mjs scripts/emergency_stop.sh ./scripts/
COPY --from=build /src/dist ./dist
COPY --from=build /src/packages/gate/dist ./packages/gate/dist
COPY bin ./bin
# prepare.mjs sees the shipped dist/ directories and no TypeScript: nothing is compiled here; npm links the gate.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY README.md RUNBOOK.md manifest.yml ./
COPY docs ./docs
COPY monitoring ./monitoring
USER tradeguard
VOLUME ["/var/lib/tradeguard"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "scripts/healthcheck.mjs"]
STOPSIGNAL SIGTERM
CMD ["node", "bin/tradeguard.js", "start"]
