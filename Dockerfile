# One image for every Toolgate process; docker-compose picks the command per service.
FROM node:20-bookworm-slim AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH NEXT_TELEMETRY_DISABLED=1 TURBO_TELEMETRY_DISABLED=1
RUN npm install -g pnpm@12
# The gateway runs tenant stdio servers only inside bubblewrap; egress goes through slirp4netns.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap slirp4netns iproute2 util-linux \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app

FROM base AS build
COPY . .
RUN pnpm install --frozen-lockfile && pnpm --filter @toolgate/db run db:generate

FROM base
COPY --from=build /app /app
USER node
CMD ["pnpm", "--filter", "@toolgate/api", "run", "start"]
