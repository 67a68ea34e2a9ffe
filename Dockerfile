# One image for every Toolgate process (migrate, api, worker, gateway, web); docker-compose.yml
# and infra/k8s pick the command per process. No secret is baked in: .env is in .dockerignore and
# every secret comes from the environment at run time.
FROM node:20-bookworm-slim AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH NEXT_TELEMETRY_DISABLED=1 TURBO_TELEMETRY_DISABLED=1
RUN npm install -g pnpm@12
# The gateway runs tenant stdio servers only inside bubblewrap; egress goes through slirp4netns
# (iproute2 sets the sandboxes' routes, util-linux brings prlimit).
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap slirp4netns iproute2 util-linux \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app

FROM base AS build
COPY . .
# Dependencies (migrations need the dev ones: the Prisma CLI and its WebAssembly schema engine),
# the generated Prisma client, and the dashboard's production build with its source stamp, so
# `pnpm --filter @toolgate/web run start` serves it without building again.
RUN pnpm install --frozen-lockfile \
  && pnpm --filter @toolgate/db run db:generate \
  && node apps/web/scripts/build-if-stale.mjs

FROM base
COPY --from=build --chown=node:node /app /app
# Every process but the gateway runs as `node`; the gateway's service runs as root for the
# sandbox (per-server uids, slirp4netns): see infra/README.md.
USER node
CMD ["pnpm", "--filter", "@toolgate/api", "run", "start"]
