/**
 * Start-up cost of a big rule book: how long it takes to read 1,000,000 active rules from PostgreSQL
 * (the store's paged query) and put them into the engine.
 *
 *   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test npx tsx bench/engine-load.ts [rules=1000000] [pairs=2000]
 *
 * It creates a scratch database beside the one named (the user must be allowed to CREATE DATABASE), fills it
 * with generate_series in SQL (seconds, not the minutes per-row inserts would take), measures, and drops it.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase } from '../src/db/client.js';
import { loadActiveRules } from '../src/alerts/store.js';
import { AlertEngine } from '../src/alerts/engine.js';

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const RULES = Number(process.argv[2] ?? 1_000_000);
const PAIRS = Number(process.argv[3] ?? 2_000);

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const name = `maxflash_bench_${randomBytes(4).toString('hex')}`;
await admin(`CREATE DATABASE "${name}"`);
const url = new URL(adminUrl);
url.pathname = `/${name}`;
try {
  const db = await openDatabase({ databaseUrl: url.toString(), dataDir: os.tmpdir() });
  const fillStarted = performance.now();
  await db.prisma.$executeRawUnsafe(`
    INSERT INTO chats (platform, external_id, kind, updated_at)
    SELECT 'telegram', (100000 + g)::text, 'private', now() FROM generate_series(1, 10000) g`);
  // A realistic mix: levels both ways, crosses, moves and window moves; a third repeat with a cooldown.
  await db.prisma.$executeRawUnsafe(`
    INSERT INTO alert_rules (chat_id, exchange, pair, kind, op, threshold, window_sec, repeat, cooldown_sec, state,
                             armed, reference_price, source, updated_at)
    SELECT 1 + (g % 10000),
           (ARRAY['binance','bybit','okx'])[1 + g % 3],
           'P' || (g % ${PAIRS}) || '/USDT',
           (ARRAY['level','level','crosses','move','window_move']::"RuleKind"[])[1 + g % 5],
           CASE g % 5 WHEN 0 THEN '>' WHEN 1 THEN '<' WHEN 2 THEN 'x' ELSE '±' END,
           CASE WHEN g % 5 < 3 THEN 100 + (g % 997) * 0.37 ELSE 1 + (g % 9) END,
           CASE WHEN g % 5 = 4 THEN 3600 END,
           (ARRAY['once','once','every']::"RepeatPolicy"[])[1 + g % 3],
           CASE WHEN g % 3 = 2 THEN 1800 END,
           'active', true,
           CASE WHEN g % 5 = 3 THEN 250 END,
           '/alert bench', now()
      FROM generate_series(1, ${RULES}) g`);
  console.log(`filled ${RULES.toLocaleString('en-US')} rules over ${PAIRS} pairs in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s`);

  const started = performance.now();
  const rules = await loadActiveRules(db.prisma, new Date());
  const loaded = performance.now();
  const engine = new AlertEngine();
  for (const rule of rules) engine.add(rule);
  const done = performance.now();
  console.log(`| rules | read from Postgres | into the engine | total |`);
  console.log(`|---|---|---|---|`);
  console.log(
    `| ${engine.size().toLocaleString('en-US')} | ${((loaded - started) / 1000).toFixed(2)} s | ${((done - loaded) / 1000).toFixed(2)} s | ${((done - started) / 1000).toFixed(2)} s |`,
  );
  await db.close();
} finally {
  await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}
