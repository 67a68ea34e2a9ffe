# One image for every Toolgate process; docker-compose picks the command per service.
FROM node:20-bookworm-slim AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH NEXT_TELEMETRY_DISABLED=1 TURBO_TELEMETRY_DISABLED=1
RUN npm install -g pnpm@12
WORKDIR /app

FROM base AS build
COPY . .
RUN pnpm install --frozen-lockfile && pnpm --filter @toolgate/db run db:generate

FROM base
COPY --from=build /app /app
USER node
CMD ["pnpm", "--filter", "@toolgate/api", "run", "start"]
