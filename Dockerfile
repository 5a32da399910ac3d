# The API and the worker share one image; docker-compose.yml picks the entry point.
#
# The image holds the platform only, never the Airtable emulator (the npm workspace emulators/airtable,
# imported by tests and benchmarks alone): .dockerignore keeps it out of the build context,
# --workspaces=false installs the root package without it (the lockfile names the workspace; npm ci
# then neither needs nor links it, but refuses to run if the folder is present, so keep the install
# before `COPY . .`), tsconfig.build.json leaves it out of dist/, and the last stage copies only
# dist/, the production node_modules and package.json.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --workspaces=false
COPY . .
RUN npm run build \
  && npm run build:console \
  && node dist/scripts/bundle-workflows.js dist/workflow-bundle.js \
  && npm prune --omit=dev --workspaces=false \
  && test ! -e dist/emulators && test ! -e node_modules/@airtable-ops

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/db/migrations ./dist/db/migrations
# The web console's bundle, where the compiled API looks for it (api/console.ts).
COPY --from=build /app/console/dist ./dist/console/dist
COPY --from=build /app/package.json ./
USER node
EXPOSE 3000
CMD ["node", "dist/api/main.js"]
