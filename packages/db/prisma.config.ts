import path from 'node:path';
import { defineConfig } from 'prisma/config';

// Air-gapped migrations: Prisma's CLI would download a native schema engine. We point it at a
// Node shim that runs the WebAssembly build of the same engine (see scripts/schema-engine.mjs).
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.join(__dirname, 'scripts', 'schema-engine.mjs');

export default defineConfig({
  schema: path.join(__dirname, '..', '..', 'prisma', 'schema.prisma'),
  migrations: { path: path.join(__dirname, '..', '..', 'prisma', 'migrations') },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/toolgate' },
});
