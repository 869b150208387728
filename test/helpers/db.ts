/**
 * Run DB tests on every engine the app supports:
 *
 *   describe.each(engines)('outbox on $name', ({ open }) => {
 *     let db: Database;
 *     beforeAll(async () => { db = await open(); });
 *     afterAll(() => db?.close());
 *     it('…', async () => { await db.prisma.chat.create(…) });
 *   });
 *
 * PGlite always runs (in memory); PostgreSQL only when TEST_DATABASE_URL points at a server whose user may
 * CREATE DATABASE (e.g. postgresql://postgres@127.0.0.1:5432/test). Every open() is a fresh, migrated,
 * isolated database; close() disposes of it (on Postgres it drops the database).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/client.js';

export type EngineName = Database['engine'];

export interface TestEngine {
  name: EngineName;
  open(opts?: { migrationsDir?: string }): Promise<Database>;
}

export const pgliteEngine: TestEngine = {
  name: 'pglite',
  open: (opts = {}) => openDatabase({ dataDir: 'memory://', ...opts }),
};

export const postgresEngine = (adminUrl: string): TestEngine => ({
  name: 'postgres',
  async open(opts = {}) {
    const scratch = await createPostgresDatabase(adminUrl);
    // dataDir is required by the signature but unused with a URL: nothing is written there.
    const db = await openDatabase({ databaseUrl: scratch.url, dataDir: os.tmpdir(), ...opts }).catch(async (err: unknown) => {
      await scratch.drop();
      throw err;
    });
    let closing: Promise<void> | undefined;
    return { ...db, close: () => (closing ??= db.close().then(scratch.drop)) };
  },
});

const testDatabaseUrl = process.env.TEST_DATABASE_URL;

export const engines: TestEngine[] = [pgliteEngine, ...(testDatabaseUrl ? [postgresEngine(testDatabaseUrl)] : [])];

/** An empty database on the server of adminUrl (no migrations applied), for tests that need the raw URL. */
export async function createPostgresDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `maxflash_t_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    // FORCE: a test that failed mid-way may still hold connections to it.
    drop: () => withAdmin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

async function withAdmin(adminUrl: string, fn: (c: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * For tests that share one database across cases: removes every chat with what hangs off it (rules,
 * watches, outbox rows, webhooks, channel links), so each case starts from an empty bot.
 */
export async function clearChats(db: Database): Promise<void> {
  // children first: an outbox row's rule link is SET NULL, not a cascade
  await db.prisma.notification.deleteMany();
  await db.prisma.watch.deleteMany();
  await db.prisma.alertRule.deleteMany();
  await db.prisma.chat.deleteMany();
}
