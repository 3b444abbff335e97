# syntax=docker/dockerfile:1
# Sluice gateway image. Multi-platform without arch-specific steps:
#   docker buildx build --platform linux/amd64,linux/arm64 -t sluice:latest .
# Each platform's stages run for that platform, so better-sqlite3 is compiled (or its prebuilt
# binary fetched) for the CPU the image is for.

# Node 22 is the LTS in the image; the code itself still supports Node >= 20 (package.json engines).
ARG NODE_VERSION=22

# --- build: a full image, with python3, make and g++ for better-sqlite3's native addon ----------
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the root `prepare` script would build before the sources are here, and the
# compiler only needs TypeScript, not the native addon.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build

# Production dependencies only, with better-sqlite3's addon built here where the compiler is.
FROM node:${NODE_VERSION}-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && npm rebuild better-sqlite3 \
 && npm cache clean --force

# --- runtime: slim, same Debian release and Node as the build, so the addon's ABI matches ------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    SLUICE_CONFIG=/etc/sluice/sluice.yaml \
    SLUICE_DATA_DIR=/data \
    SLUICE_POLICIES_DIR=/etc/sluice/policies \
    # Peak RSS 98 -> 84 MiB idle (bench/RESULTS.md): two malloc arenas, freed buffers returned, a 1 MiB young generation.
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    NODE_OPTIONS=--max-semi-space-size=1
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY devices ./devices
COPY docs ./docs
COPY deploy/healthcheck.js ./deploy/healthcheck.js
COPY deploy/sluice.yaml /etc/sluice/sluice.yaml
COPY policies /etc/sluice/policies
# The unprivileged `node` user (uid 1000) of the official image owns only the data directory.
# `docker compose exec sluice sluice devices add …` finds the CLI on PATH.
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data \
 && chmod 0755 bin/sluice.js && ln -s /app/bin/sluice.js /usr/local/bin/sluice
USER node
VOLUME ["/data"]
# MQTT (mqtt.port). TLS (8883) and WebSocket (8083) listeners are off by default; publish them
# in docker-compose.yml when you turn them on.
EXPOSE 1883
# Until the dashboard serves /healthz (it will listen on 127.0.0.1:8420 inside the container,
# then: wget -qO- http://127.0.0.1:8420/healthz), ask the gateway over its admin socket.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "deploy/healthcheck.js"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/sluice.js"]
CMD ["start"]
