import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGliteInterface } from '@electric-sql/pglite';
import type pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../log.js';

/**
 * Applies prisma/migrations/<name>/migration.sql at start-up, offline, on PGlite and PostgreSQL alike,
 * and records them in `_prisma_migrations` exactly as Prisma Migrate does, so `prisma migrate deploy`
 * (where its engine can be downloaded) sees the same history and has nothing left to do.
 */

/** The few operations the migrator needs; see pgliteExecutor / pgPoolExecutor, or pass a PrismaClient. */
export interface SqlRunner {
  /** Runs a script of one or more statements, without parameters. */
  exec(script: string): Promise<void>;
  query<R extends object>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

export interface MigrationExecutor extends SqlRunner {
  /** Runs fn in one transaction on one connection: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
}

export interface ApplyMigrationsOptions {
  /** defaults to prisma/migrations under the package root */
  migrationsDir?: string;
  log?: Logger;
}

interface MigrationFile {
  name: string;
  script: string;
  checksum: string;
}

interface HistoryRow {
  migration_name: string;
  checksum: string;
  finished: boolean;
  rolled_back: boolean;
}

/** Prisma Migrate's own advisory-lock key: sharing it makes our start-up and `prisma migrate deploy` take turns. */
const PRISMA_MIGRATE_LOCK_KEY = 72707369;

/** Fail instead of hanging start-up forever behind a stuck migrator or a long-held table lock. */
const LOCK_TIMEOUT = '60s';

/** Same DDL as Prisma's schema engine, so a database we migrated is indistinguishable from one it migrated. */
const CREATE_HISTORY_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

const SELECT_HISTORY = `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished,
  rolled_back_at IS NOT NULL AS rolled_back FROM "_prisma_migrations"`;

export async function applyMigrations(
  target: PrismaClient | MigrationExecutor,
  opts: ApplyMigrationsOptions = {},
): Promise<{ applied: string[] }> {
  const dir = opts.migrationsDir ?? defaultMigrationsDir();
  const files = await readMigrations(dir);
  const viaPrisma = isPrismaClient(target);
  const sql = viaPrisma ? prismaExecutor(target) : target;

  await sql.transaction(async (tx) => {
    await takeMigrateLock(tx);
    await tx.exec(CREATE_HISTORY_TABLE);
  });
  const landed = checkHistory(await sql.query<HistoryRow>(SELECT_HISTORY), files, opts.log);

  const applied: string[] = [];
  for (const file of files) {
    if (landed.has(file.name)) continue;
    const started = performance.now();
    // Checked again under the lock: another process may have applied it since we looked.
    const didApply = await sql.transaction(async (tx) => {
      await takeMigrateLock(tx);
      const rows = await tx.query<HistoryRow>(`${SELECT_HISTORY} WHERE migration_name = $1`, [file.name]);
      if (checkHistory(rows, [file], opts.log).has(file.name)) return false;
      const id = randomUUID();
      await tx.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
         VALUES ($1, $2, $3, clock_timestamp(), 0)`,
        [id, file.checksum, file.name],
      );
      await runScript(tx, file, viaPrisma);
      await tx.query(
        `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
        [id],
      );
      return true;
    });
    if (!didApply) continue;
    applied.push(file.name);
    opts.log?.info({ migration: file.name, ms: Math.round(performance.now() - started) }, 'applied migration');
  }
  return { applied };
}

/** Migration names already applied; throws on a history that `prisma migrate deploy` would also refuse. */
function checkHistory(rows: HistoryRow[], files: MigrationFile[], log?: Logger): Set<string> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const landed = new Set<string>();
  for (const row of rows) {
    // A rolled-back attempt (`prisma migrate resolve --rolled-back`) counts as never applied.
    if (row.rolled_back) continue;
    if (!row.finished) {
      throw new Error(
        `migration ${row.migration_name} was started but never finished (a failed \`prisma migrate\` run?); ` +
          `repair the database, then mark it with \`prisma migrate resolve --applied|--rolled-back ${row.migration_name}\``,
      );
    }
    const file = byName.get(row.migration_name);
    if (!file) {
      // Not fatal, as with `prisma migrate deploy`: typically a newer build ran here before a rollback.
      log?.warn({ migration: row.migration_name }, 'database has a migration this build does not know');
      continue;
    }
    if (!checksumMatches(file.script, row.checksum)) {
      throw new Error(
        `migration ${file.name} was modified after it was applied (checksum ${file.checksum} on disk, ` +
          `${row.checksum} in _prisma_migrations); never edit a landed migration — restore it and add a new one`,
      );
    }
    landed.add(row.migration_name);
  }
  return landed;
}

/** Like Prisma: a file whose line endings git turned into CRLF still matches the checksum taken with LF. */
function checksumMatches(script: string, checksum: string): boolean {
  return sha256(script) === checksum || sha256(script.replace(/\r\n/g, '\n')) === checksum;
}

async function runScript(tx: SqlRunner, file: MigrationFile, viaPrisma: boolean): Promise<void> {
  try {
    await tx.exec(file.script);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const hint = viaPrisma && /multiple commands into a prepared statement/.test(message)
      ? ' (this Prisma driver adapter runs one statement per call: pass pgliteExecutor(pglite) instead, as openDatabase does)'
      : '';
    throw new Error(`migration ${file.name} failed and was rolled back: ${message}${hint}`, { cause: err });
  }
}

async function takeMigrateLock(tx: SqlRunner): Promise<void> {
  // SET LOCAL and the xact lock end with the transaction: nothing to undo on a pooled connection.
  await tx.exec(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
  await tx.exec(`SELECT pg_advisory_xact_lock(${PRISMA_MIGRATE_LOCK_KEY})`);
}

async function readMigrations(dir: string): Promise<MigrationFile[]> {
  if (!existsSync(dir)) {
    throw new Error(`no migrations directory at ${dir}: prisma/migrations must ship next to package.json`);
  }
  const lock = await readFile(path.join(dir, 'migration_lock.toml'), 'utf8').catch(() => null);
  const provider = lock?.match(/^\s*provider\s*=\s*"([^"]*)"/m)?.[1];
  if (provider !== undefined && provider !== 'postgresql') {
    throw new Error(`migrations in ${dir} were made for provider "${provider}", not "postgresql"`);
  }
  const entries = await readdir(dir, { withFileTypes: true });
  // Prisma orders by localeCompare of the directory name; do the same so both agree on "next".
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort((a, b) => a.localeCompare(b));
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name, 'migration.sql');
      const script = await readFile(file, 'utf8').catch((err: unknown) => {
        throw new Error(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      return { name, script, checksum: sha256(script) };
    }),
  );
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

let cachedDir: string | undefined;

/** prisma/migrations beside the package.json above this file: the same from src/ (tsx) and dist/ (node). */
export function defaultMigrationsDir(): string {
  if (cachedDir) return cachedDir;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  cachedDir = path.join(dir, 'prisma', 'migrations');
  return cachedDir;
}

function isPrismaClient(target: PrismaClient | MigrationExecutor): target is PrismaClient {
  return typeof (target as Partial<PrismaClient>).$transaction === 'function';
}

/** Interactive transactions time out after 5 s by default; a migration may legitimately take minutes. */
const PRISMA_TX_OPTIONS = { maxWait: 30_000, timeout: 30 * 60_000 };

function prismaExecutor(prisma: PrismaClient): MigrationExecutor {
  type Raw = Pick<PrismaClient, '$executeRawUnsafe' | '$queryRawUnsafe'>;
  const runner = (c: Raw): SqlRunner => ({
    // Multi-statement scripts work where the driver uses the simple protocol for parameterless calls
    // (@prisma/adapter-pg); the PGlite adapter prepares every call, so there use pgliteExecutor.
    exec: async (script) => void (await c.$executeRawUnsafe(script)),
    query: <R extends object>(q: string, params: readonly unknown[] = []) => c.$queryRawUnsafe<R[]>(q, ...params),
  });
  return {
    ...runner(prisma),
    transaction: (fn) => prisma.$transaction((tx) => fn(runner(tx)), PRISMA_TX_OPTIONS),
  };
}

export function pgliteExecutor(db: PGliteInterface): MigrationExecutor {
  const runner = (c: Pick<PGliteInterface, 'exec' | 'query'>): SqlRunner => ({
    exec: async (script) => void (await c.exec(script)),
    query: async <R extends object>(q: string, params: readonly unknown[] = []) => (await c.query<R>(q, [...params])).rows,
  });
  return { ...runner(db), transaction: (fn) => db.transaction((tx) => fn(runner(tx))) };
}

export function pgPoolExecutor(pool: pg.Pool): MigrationExecutor {
  const runner = (c: pg.Pool | pg.PoolClient): SqlRunner => ({
    // No parameters → pg uses the simple query protocol, which accepts a whole script.
    exec: async (script) => void (await c.query(script)),
    query: async <R extends object>(q: string, params: readonly unknown[] = []) => (await c.query(q, [...params])).rows as R[],
  });
  return {
    ...runner(pool),
    async transaction(fn) {
      const client = await pool.connect();
      // A checked-out client has no pool listener: a server-side disconnect would be an unhandled 'error'
      // event (a crash). The failed query rejects on its own, so the event itself can be dropped.
      const ignore = () => {};
      client.on('error', ignore);
      try {
        await client.query('BEGIN');
        const result = await fn(runner(client));
        await client.query('COMMIT');
        client.off('error', ignore);
        client.release();
        return result;
      } catch (err) {
        // A connection whose ROLLBACK also failed is in an unknown state: destroy it rather than pool it.
        const rolledBack = await client.query('ROLLBACK').then(() => true, () => false);
        client.off('error', ignore);
        client.release(rolledBack ? undefined : true);
        throw err;
      }
    },
  };
}
