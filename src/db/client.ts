import { createHash } from 'node:crypto';
import { mkdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';
import { redactSecrets, type Logger } from '../log.js';
import { applyMigrations, pgliteExecutor, pgPoolExecutor } from './migrate.js';

/** Raw SQL straight to the driver, `$1`-style: the rows as the driver parses them (bigint as string). */
export type SqlExecutor = <R>(text: string, values: readonly unknown[]) => Promise<R[]>;

export interface Database {
  prisma: PrismaClient;
  engine: 'pglite' | 'postgres';
  /**
   * On a server only: the pool without the ORM, for the one statement on every alert's path (the firing
   * write), where the ORM's request pipeline cost a few tenths of a ms, more on a busy event loop.
   */
  sql?: SqlExecutor;
  /** One round trip through Prisma; rejects when the database is gone. */
  ping(): Promise<void>;
  /** Disconnects and frees the data dir (PGlite) or the pool (Postgres). Safe to call twice. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres:// or postgresql:// URL; unset → embedded PGlite in `${dataDir}/pglite` */
  databaseUrl?: string;
  /**
   * Where the embedded database lives (unused with databaseUrl). `memory://` (or `memory://<name>`) opens a
   * fresh in-memory PGlite that vanishes on close — for tests.
   */
  dataDir: string;
  log?: Logger;
  /** defaults to the package's prisma/migrations */
  migrationsDir?: string;
}

/** An unroutable host would otherwise hang start-up for the OS TCP timeout (minutes). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Raw SQL that starts with this comment is prepared once per connection and then only executed: the
 * firing write is a dozen sub-statements whose parsing and planning took ~0.8 ms of its ~2 ms, on every
 * alert. Only statements whose text is fixed and whose inputs travel as JSON should carry it: after five
 * runs the server may keep one generic plan for every input, which costs nothing when the planner could
 * not see into the inputs anyway. The claim, whose plan depends on how many rows are due, must not: when
 * prepared, it stalled the 10 000-chat benchmark's burst (1 460 of 10 000 sent in ten minutes, none
 * after). The names are capped, so varying text cannot fill the server.
 */
export const PREPARED = '/* prepared */';
const MAX_PREPARED = 32;
const preparedNames = new Map<string, string>();

/** The statement's name for PrismaPg ('' → not prepared, as pg takes an empty name). */
export function statementName(query: { sql: string }): string {
  if (!query.sql.trimStart().startsWith(PREPARED)) return '';
  let name = preparedNames.get(query.sql);
  if (name === undefined) {
    if (preparedNames.size >= MAX_PREPARED) return '';
    name = `mf_${createHash('sha1').update(query.sql).digest('hex').slice(0, 20)}`;
    preparedNames.set(query.sql, name);
  }
  return name;
}

/** Opens the database, applies pending migrations, and returns it ready for queries. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts) : openPGlite(opts);
}

async function openPostgres(url: string, opts: OpenDatabaseOptions): Promise<Database> {
  const where = describeTarget(url);
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle client that loses its server emits 'error' on the pool; unheard, that would crash the process.
  // (pg errors carry the whole client object: log the reason only.)
  pool.on('error', (err) => opts.log?.warn({ db: where, reason: reasonOf(err) }, 'idle PostgreSQL connection failed'));
  const started = performance.now();
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw new Error(`cannot connect to PostgreSQL at ${where}: ${reasonOf(err)}`, { cause: err });
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { statementNameGenerator: statementName }) });
  const release = async () => {
    await prisma.$disconnect().catch(() => {});
    await pool.end();
  };
  const { applied } = await applyMigrations(pgPoolExecutor(pool), migrateOpts(opts)).catch(async (err: unknown) => {
    await release().catch(() => {});
    throw err;
  });
  opts.log?.info({ db: where, applied, ms: Math.round(performance.now() - started) }, 'database ready (postgres)');
  const sql: SqlExecutor = async <R>(text: string, values: readonly unknown[]) =>
    (await pool.query({ name: statementName({ sql: text }), text, values: [...values] })).rows as R[];
  return { ...handle(prisma, 'postgres', release), sql };
}

async function openPGlite(opts: OpenDatabaseOptions): Promise<Database> {
  const inMemory = opts.dataDir.startsWith('memory://');
  const dir = inMemory ? opts.dataDir : path.resolve(opts.dataDir, 'pglite');
  let unlock = async (): Promise<void> => {};
  if (!inMemory) {
    await mkdir(dir, { recursive: true });
    unlock = await lockDataDir(path.dirname(dir), opts.log);
  }
  const started = performance.now();
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(dir);
  } catch (err) {
    await unlock();
    throw new Error(`cannot open the embedded database in ${dir}: ${reasonOf(err)}`, { cause: err });
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  const release = async () => {
    await prisma.$disconnect().catch(() => {});
    await pglite.close().catch(() => {});
    await unlock();
  };
  const { applied } = await applyMigrations(pgliteExecutor(pglite), migrateOpts(opts)).catch(async (err: unknown) => {
    await release().catch(() => {});
    throw err;
  });
  opts.log?.info({ dir, applied, ms: Math.round(performance.now() - started) }, 'database ready (pglite)');
  return handle(prisma, 'pglite', release);
}

function handle(prisma: PrismaClient, engine: Database['engine'], release: () => Promise<void>): Database {
  let closing: Promise<void> | undefined;
  return {
    prisma,
    engine,
    async ping() {
      await prisma.$queryRaw`SELECT 1`;
    },
    close: () => (closing ??= release()),
  };
}

function migrateOpts(opts: OpenDatabaseOptions) {
  return { ...(opts.migrationsDir ? { migrationsDir: opts.migrationsDir } : {}), ...(opts.log ? { log: opts.log } : {}) };
}

/** host:port/database of a connection URL — never its credentials. */
function describeTarget(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // No cause attached: URL errors carry the input, password included.
    throw new Error('DATABASE_URL is not a valid URL (expected postgresql://user:password@host:5432/database)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new Error(`DATABASE_URL must start with postgresql:// (got ${u.protocol}//)`);
  }
  const host = u.hostname || u.searchParams.get('host') || 'localhost';
  return `${host}:${u.port || '5432'}/${decodeURIComponent(u.pathname.slice(1))}`;
}

function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return redactSecrets(String(err));
  const code = (err as { code?: unknown }).code;
  const hint = code === 'ECONNREFUSED' ? ' (is the server running and listening there?)' : '';
  return redactSecrets(err.message || String(code ?? err.name)) + hint;
}

/**
 * One process per PGlite data dir: PGlite takes no lock of its own, and two processes writing the same
 * files corrupt them. The lock is a Unix socket we listen on: a live owner accepts a connection, while
 * the socket file a killed process leaves behind refuses it — so a crash never needs manual clean-up,
 * pid reuse in containers cannot fool it, and it works across containers sharing the volume.
 */
async function lockDataDir(dataDir: string, log?: Logger): Promise<() => Promise<void>> {
  let sockPath = path.join(dataDir, 'pglite.lock');
  // sun_path holds ~107 bytes and Node silently truncates longer paths; fall back to a per-dir name in tmp.
  if (Buffer.byteLength(sockPath) > 100) {
    const digest = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
    sockPath = path.join(os.tmpdir(), `maxflash-pglite-${digest}.lock`);
  }
  const inUse = () =>
    new Error(
      `the embedded database in ${dataDir} is in use by another process (or is already open in this one); ` +
        'stop that process, or point DATA_DIR elsewhere, or set DATABASE_URL',
    );
  const server = net.createServer((socket) => socket.destroy());
  server.on('error', () => {}); // after listening, nothing it reports matters to the lock
  try {
    await listen(server, sockPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE') {
      // e.g. a bind mount that cannot hold sockets: run unguarded rather than not at all.
      log?.warn({ err, dataDir }, 'cannot lock the embedded database directory; make sure only one process uses it');
      return async () => {};
    }
    if (await answers(sockPath)) throw inUse();
    await unlink(sockPath).catch(() => {});
    // Losing a race with another starter taking over the same stale lock lands here as EADDRINUSE again.
    await listen(server, sockPath).catch(() => {
      throw inUse();
    });
    log?.info({ dataDir }, 'took over the lock of a process that ended without releasing it');
  }
  server.unref();
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}

function listen(server: net.Server, sockPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(sockPath, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** A live owner accepts at once (the kernel completes the connect even if its event loop is busy). */
function answers(sockPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(sockPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
