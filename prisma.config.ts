import { defineConfig } from 'prisma/config';

// The app applies migrations itself at start-up (src/db/migrate.ts), so the CLI only needs the URL for
// `prisma migrate deploy` / `prisma studio` where its engine can be downloaded.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/maxflash' },
});
