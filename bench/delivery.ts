/**
 * Alert delivery, end to end: the whole app booted in-process (createApp) on a scratch PostgreSQL database,
 * the real ccxt feed on the fake Binance, the real grammY client on the fake Telegram, everything on 127.0.0.1.
 *
 *   npx tsx bench/delivery.ts [--chats 10000] [--runs 200] [--async-commit] [--one-alert]
 *   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test npx tsx bench/delivery.ts --chats 2000
 *
 * A scratch database is created beside the one named by BENCH_DATABASE_URL / TEST_DATABASE_URL (default
 * postgresql://postgres@127.0.0.1:5432/test; the user must be allowed to CREATE DATABASE), the rules are
 * seeded into it with generate_series before the app boots, and it is dropped at the end, also on failure.
 *
 *   (1) one alert: the time from the fake exchange sending the tick that crosses a rule's level to the
 *       sendMessage arriving at the fake Telegram; p50/p99 over `runs` runs (after 10 warm-up runs). Each
 *       run has its own one-shot rule in its own chat, on levels one above the other, so each tick fires
 *       exactly one rule; runs are spaced 40 ms apart, wider than the app's ~34 ms Telegram spacing, so
 *       none waits for a send token.
 *   (2) a burst: `chats` private chats, each with one rule, all firing on the same tick. Drain time and
 *       rate against Telegram's whole allowance of 30/s (alerts may use all of it; a command reply takes
 *       the next token when one waits). The app grants at most 30 per 1035 ms (35 ms kept for jitter),
 *       so the best drain is (N/30)·1.035 s, 29.0/s = 96.6 % of 30/s; that ideal is shown beside
 *       the measured time. Checks: rate ≥ 95 % of 30/s, every chat got exactly its own alert, none twice,
 *       no 1 s window at the fake with more than 30 messages, no chat with two messages within 1 s.
 *   (3) the same burst with 429s injected at the fake: every 500th sendMessage answers 429 with
 *       retry_after 1, 2 or 3 s in turn (that chat only), and the 1,250th, 3,750th, … (every 2,500th from
 *       1,250) opens a 2 s flood window in which every sendMessage answers 429 (retry_after 2), as a
 *       bot-wide limit would. No client can send through a flood window, so the ≥ 95 % check of (3) is on
 *       the rate over the time Telegram allowed sending: the drain time less 2 s per flood window opened
 *       (the retry_after Telegram gave when it opened). The plain rate over the whole drain is shown too.
 * The parts run one after another on one app. To say where the time goes, the bench wraps two methods
 * (RateLimiter.reserve and Dispatcher.wake) to note when they are called; what they do is unchanged.
 * Stops by itself: every wait is bounded and a watchdog ends the run (cleaning up) if it overruns.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { PassThrough } from 'node:stream';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pg from 'pg';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/client.js';
import { withTimeout } from '../src/lib/abort.js';
import { createLogger } from '../src/log.js';
import { DEFAULT_POLICIES, RateLimiter } from '../src/delivery/limits.js';
import { Dispatcher } from '../src/delivery/dispatcher.js';
import type { PriceTick } from '../src/market/types.js';
import { startFakeBinance, type FakeBinance } from '../test/fakes/binance.js';
import { startFakeTelegram, type ApiCall, type FakeTelegram, type SentMessage } from '../test/fakes/telegram.js';
import { waitFor } from '../test/helpers/wait.js';

// ---- arguments ----

function intArg(name: string, fallback: number, min: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const inline = process.argv.find((a) => a.startsWith(`--${name}=`));
  const raw = inline ? inline.slice(name.length + 3) : i >= 0 ? process.argv[i + 1] : undefined;
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`usage: npx tsx bench/delivery.ts [--chats N≥${min}] [--runs R] [--async-commit] (got --${name} ${raw})`);
  return n;
}

const CHATS = intArg('chats', 10_000, 1);
const RUNS = intArg('runs', 200, 1);
/**
 * --async-commit: the scratch database gets synchronous_commit = off, to show what the WAL flush costs
 * (a commit then returns before its WAL reaches the disk: a database-server crash may lose the last
 * ~0.6 s of firings). The app itself never turns it off; this is a measurement, not a setting.
 */
const ASYNC_COMMIT = process.argv.includes('--async-commit');
/** --one-alert: part (1) only, on the database seeded for `chats` (the bursts' rows are there, idle) */
const ONE_ALERT_ONLY = process.argv.includes('--one-alert');
const WARMUP = 10;
/** Telegram: 30 messages/s per bot, command replies included */
const ALLOWANCE = 30;
/** the app's Telegram window: 30 per this many ms (a second plus room for network jitter; limits.ts) */
const WINDOW_MS = Math.max(...DEFAULT_POLICIES.telegram.global.map((l) => (l.type === 'window' ? l.windowMs : 0)));
/** how long the fake refuses every sendMessage once a flood window opens: its retry_after */
const FLOOD_MS = 2_000;
const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/** One clock with sub-millisecond resolution for both the tick time and the fake Telegram's arrival times. */
const clock = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- instrumentation: when the app's limiter hands out a send token (behaviour unchanged) ----

interface Grant {
  chat: string;
  /** the app's clock as the limiter saw it (Date.now) */
  now: number;
  /** the bench clock, comparable with the fake Telegram's arrival times */
  at: number;
}
const grants: Grant[] = [];
const grantOf = new Map<string, Grant>();
const reserve = RateLimiter.prototype.reserve;
RateLimiter.prototype.reserve = function (this: RateLimiter, ...args: Parameters<RateLimiter['reserve']>): number {
  const waitMs = reserve.apply(this, args);
  if (waitMs === 0 && args[0] === 'telegram') {
    const g = { chat: args[1], now: args[3], at: clock() };
    grants.push(g);
    grantOf.set(g.chat, g);
  }
  return waitMs;
};

/** the first dispatcher wake-up once armed: the alert service calls wake() right after committing firings */
const firstWake = { armed: false, at: 0 };
const wake = Dispatcher.prototype.wake;
Dispatcher.prototype.wake = function (this: Dispatcher): void {
  if (firstWake.armed) Object.assign(firstWake, { armed: false, at: clock() });
  wake.call(this);
};

// ---- the chats and rules of each part, seeded before the app boots ----

interface Part {
  name: string;
  /** chats get external ids base, base+1, … */
  base: number;
  count: number;
  pair: string;
  symbol: string;
  /** SQL expression of the rule level, given the SQL expression of the chat's index 0…count-1 */
  level: (g: string) => string;
  /** the start price the fake exchange quotes */
  start: string;
}

const single: Part = { name: 'single', base: 1_000_000, count: WARMUP + RUNS, pair: 'ETH/USDT', symbol: 'ETHUSDT', level: (g) => `3000 + (${g} + 1) * 10`, start: '3000' };
const burst: Part = { name: 'burst', base: 2_000_000, count: CHATS, pair: 'BTC/USDT', symbol: 'BTCUSDT', level: () => '21000', start: '20000' };
const burst429: Part = { name: 'burst-429', base: 3_000_000, count: CHATS, pair: 'LTC/USDT', symbol: 'LTCUSDT', level: () => '90', start: '80' };
const PARTS = [single, burst, burst429];

/** external chat id → the id of its one rule */
type Expected = Map<string, number>;

async function seed(url: string): Promise<Map<Part, Expected>> {
  const db = await openDatabase({ databaseUrl: url, dataDir: os.tmpdir() }); // applies the migrations
  try {
    const out = new Map<Part, Expected>();
    for (const p of PARTS) {
      await db.prisma.$executeRawUnsafe(`
        INSERT INTO chats (platform, external_id, kind, updated_at)
        SELECT 'telegram'::"Platform", (${p.base} + g)::text, 'private'::"ChatKind", now() FROM generate_series(0, ${p.count - 1}) g`);
      await db.prisma.$executeRawUnsafe(`
        INSERT INTO alert_rules (chat_id, exchange, pair, kind, op, threshold, repeat, state, armed, source, updated_at)
        SELECT c.id, 'binance', '${p.pair}', 'level'::"RuleKind", '>', ${p.level(`(c.external_id::bigint - ${p.base})`)},
               'once'::"RepeatPolicy", 'active'::"RuleState", true, '/alert ${p.pair} > level', now()
          FROM chats c
         WHERE c.external_id::bigint BETWEEN ${p.base} AND ${p.base + p.count - 1}
         ORDER BY c.id`);
      const rows = await db.prisma.$queryRawUnsafe<Array<{ external_id: string; id: number }>>(`
        SELECT c.external_id, r.id FROM alert_rules r JOIN chats c ON c.id = r.chat_id
         WHERE r.pair = '${p.pair}'`);
      if (rows.length !== p.count) throw new Error(`seeded ${rows.length} rules for ${p.name}, expected ${p.count}`);
      out.set(p, new Map(rows.map((r) => [r.external_id, r.id])));
    }
    // tables filled in one go have no planner statistics until autovacuum gets to them; a database in
    // service has them
    await db.prisma.$executeRawUnsafe('ANALYZE');
    return out;
  } finally {
    await db.close();
  }
}

// ---- what the app logs (warnings and errors are counted and printed; info is read for readiness) ----

const logCounts = new Map<string, number>();
let rulesLoaded = false;
/** which part of the run the app's log lines fall in */
let phase = 'boot';
const logSink = {
  write(line: string): void {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string; mod?: string; err?: unknown };
      if (entry.msg === 'alert rules loaded') rulesLoaded = true;
      if (entry.level === 'warn' || entry.level === 'error' || entry.level === 'fatal') {
        const err = typeof entry.err === 'string' ? ` (${entry.err.slice(0, 160)})` : '';
        const key = `${phase}: ${entry.level} [${entry.mod ?? '-'}] ${entry.msg ?? ''}${err}`;
        logCounts.set(key, (logCounts.get(key) ?? 0) + 1);
      }
    } catch {
      logCounts.set('unparsed log line', (logCounts.get('unparsed log line') ?? 0) + 1);
    }
  },
};

// ---- helpers ----

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The most events in any window [t, t + windowMs), and where it starts. */
function maxInWindow(times: readonly number[], windowMs: number): { max: number; at: number } {
  const t = [...times].sort((a, b) => a - b);
  let best = { max: 0, at: t[0] ?? 0 };
  for (let i = 0, j = 0; j < t.length; j++) {
    while (t[j]! - t[i]! >= windowMs) i++;
    if (j - i + 1 > best.max) best = { max: j - i + 1, at: t[i]! };
  }
  return best;
}

const fmtMs = (ms: number): string => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const fmtS = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');

function row(what: string, result: string, target: string, met: boolean | 'info'): string {
  return `| ${what} | ${result} | ${target} | ${met === 'info' ? '—' : met ? 'met' : 'NOT met'} |`;
}

// ---- the run ----

interface Rig {
  exchange: FakeBinance;
  telegram: FakeTelegram;
  app: App;
  expected: Map<Part, Expected>;
  db: pg.Client;
}

/** Every message the fake Telegram accepted, by chat, kept current by reading new ones off its list. */
class Inbox {
  readonly byChat = new Map<string, SentMessage[]>();
  private seen = 0;
  constructor(private readonly telegram: FakeTelegram) {}
  update(): void {
    const sent = this.telegram.sent();
    for (; this.seen < sent.length; this.seen++) {
      const m = sent[this.seen]!;
      const list = this.byChat.get(m.chat_id);
      if (list) list.push(m);
      else this.byChat.set(m.chat_id, [m]);
    }
  }
}

async function oneAlert(rig: Rig, inbox: Inbox): Promise<string[]> {
  const latencies: number[] = [];
  const parts = { hub: [] as number[], commit: [] as number[], claim: [] as number[], http: [] as number[] };
  const expected = rig.expected.get(single)!;
  let hubAt = 0;
  let wanted = NaN;
  const unsubscribe = rig.app.hub.onTick((tick: PriceTick) => {
    if (tick.pair === single.pair && tick.last === wanted && hubAt === 0) {
      hubAt = clock();
      // the first wake-up after this tick is the commit of its firing
      Object.assign(firstWake, { armed: true, at: 0 });
    }
  });
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const chat = String(single.base + i);
    const price = String(3000 + (i + 1) * 10 + 5); // above this run's level, below the next run's
    hubAt = 0;
    wanted = Number(price);
    const t0 = clock();
    rig.exchange.setPrice(single.symbol, price);
    // event-driven (no polling timers in the way of what is measured); the first run also waits for the dispatcher
    const msg = await rig.telegram.waitForSent((m) => m.chat_id === chat, i === 0 ? 30_000 : 5_000);
    if (!msg.text.includes(`alert #${expected.get(chat)}`)) throw new Error(`run ${i + 1}: chat ${chat} got someone else's alert: ${msg.text}`);
    if (i >= WARMUP) {
      latencies.push(msg.at - t0);
      const grant = grantOf.get(chat);
      const wokeAt = firstWake.at;
      if (hubAt > 0 && grant && wokeAt > 0) {
        parts.hub.push(hubAt - t0);
        parts.commit.push(wokeAt - hubAt);
        parts.claim.push(grant.at - wokeAt);
        parts.http.push(msg.at - grant.at);
      }
    }
    // 40 ms apart, wider than the limiter's ~34 ms spacing: no run ever waits for a send token
    await sleep(Math.max(0, 40 - (clock() - t0)));
  }
  unsubscribe();
  await sleep(300);
  inbox.update();
  const median = (xs: number[]): string => (xs.length ? fmtMs(percentile([...xs].sort((a, b) => a - b), 50)) : 'n/a');
  const p99of = (xs: number[]): string => (xs.length ? fmtMs(percentile([...xs].sort((a, b) => a - b), 99)) : 'n/a');
  const extra = [...Array(WARMUP + RUNS).keys()].filter((i) => (inbox.byChat.get(String(single.base + i))?.length ?? 0) !== 1);
  const sorted = [...latencies].sort((a, b) => a - b);
  const [p50, p99] = [percentile(sorted, 50), percentile(sorted, 99)];
  const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
  return [
    row(
      `(1) one alert, tick sent → sendMessage at Telegram, p50 (${RUNS} runs after ${WARMUP} warm-up)`,
      `${fmtMs(p50)} (min ${fmtMs(sorted[0]!)}, mean ${fmtMs(mean)})`,
      '< 5 ms',
      p50 < 5,
    ),
    row(
      '(1) one alert, p99',
      `${fmtMs(p99)} (max ${fmtMs(sorted[sorted.length - 1]!)})${extra.length ? `; ${extra.length} run(s) without exactly one message` : ''}`,
      '< 25 ms',
      p99 < 25 && extra.length === 0,
    ),
    row(
      '(1) where the time goes, p50 / p99 of each step',
      `frame sent → tick in the hub ${median(parts.hub)} / ${p99of(parts.hub)}; hub → firing committed to the outbox (engine + transaction) ${median(parts.commit)} / ${p99of(parts.commit)}; commit → send token (dispatcher wakes, claims) ${median(parts.claim)} / ${p99of(parts.claim)}; token → sendMessage at Telegram ${median(parts.http)} / ${p99of(parts.http)}`,
      '—',
      'info',
    ),
  ];
}

interface Injected {
  single: number;
  flood: number;
  floods: number;
  /** when each flood window opened (bench clock) */
  floodStarts: number[];
}

async function burstPart(rig: Rig, inbox: Inbox, part: Part, label: string, inject: boolean): Promise<string[]> {
  const expected = rig.expected.get(part)!;
  const n = part.count;
  const injected: Injected = { single: 0, flood: 0, floods: 0, floodStarts: [] };
  let stopInjecting = (): void => {};
  if (inject) {
    let k = 0;
    let floodUntil = 0;
    stopInjecting = rig.telegram.onCall((call: ApiCall) => {
      if (call.method.toLowerCase() !== 'sendmessage') return;
      k++;
      if (call.at < floodUntil) {
        rig.telegram.failNext('sendMessage', 429, { retryAfter: FLOOD_MS / 1000 });
        injected.flood++;
      } else if (k % 2500 === 1250) {
        floodUntil = call.at + FLOOD_MS - 50; // every retry (2 s after its 429) falls after the window
        injected.floods++;
        injected.floodStarts.push(call.at);
        rig.telegram.failNext('sendMessage', 429, { retryAfter: FLOOD_MS / 1000 });
        injected.flood++;
      } else if (k % 500 === 0) {
        rig.telegram.failNext('sendMessage', 429, { retryAfter: 1 + ((k / 500) % 3) });
        injected.single++;
      }
    });
  }
  const callsBefore = rig.telegram.calls.length;
  // the best the app's limits allow: 30 per WINDOW_MS
  const ideal = (n / ALLOWANCE) * WINDOW_MS;
  const deadlineMs = ideal * 1.5 + 120_000;
  const t0 = clock();
  // the fake Telegram shares the app's event loop: a stall delays its arrival stamps as it delays the sends
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  rig.exchange.setPrice(part.symbol, String(Number(part.start) * 1.2));
  let got = 0;
  let timedOut = false;
  let noneArrived = false;
  const anyArrived = (): boolean => {
    inbox.update();
    for (const chat of expected.keys()) if (inbox.byChat.has(chat)) return true;
    return false;
  };
  try {
    // nothing at all within 2 minutes means the burst is stuck before the outbox: no point waiting the full drain
    await waitFor(anyArrived, `a first alert of ${part.name}`, 120_000, 50).catch(() => {
      noneArrived = true;
      throw new Error('none arrived');
    });
    await waitFor(
      () => {
        inbox.update();
        got = 0;
        for (const chat of expected.keys()) if (inbox.byChat.has(chat)) got++;
        return got === n;
      },
      `all ${n} chats of ${part.name}`,
      deadlineMs,
      50,
    );
  } catch {
    timedOut = true;
  }
  loopDelay.disable();
  // anything still queued (a duplicate, a late retry) gets its chance to show up before counting
  await sleep(3_000);
  stopInjecting();
  inbox.update();

  let lost = 0;
  let duplicated = 0;
  let wrong = 0;
  let first = Infinity;
  let last = 0;
  const times: number[] = [];
  for (const [chat, ruleId] of expected) {
    const msgs = inbox.byChat.get(chat) ?? [];
    if (msgs.length === 0) lost++;
    if (msgs.length > 1) duplicated += msgs.length - 1;
    for (const m of msgs) {
      if (!m.text.startsWith(`🔔 ${part.pair} above`) || !m.text.includes(`alert #${ruleId}`)) wrong++;
      times.push(m.at);
      first = Math.min(first, m.at);
      last = Math.max(last, m.at);
    }
  }
  const delivered = n - lost;
  const drainMs = delivered > 0 ? last - t0 : clock() - t0;
  const rate = delivered > 0 ? delivered / (drainMs / 1000) : 0;
  // Telegram allowed no sending at all in a flood window; the part of each that fell within the drain
  const floodMs = injected.floodStarts.reduce((sum, at) => sum + Math.max(0, Math.min(FLOOD_MS, t0 + drainMs - at)), 0);
  const allowedMs = drainMs - floodMs;
  const allowedRate = delivered > 0 && allowedMs > 0 ? delivered / (allowedMs / 1000) : 0;
  const pct = (r: number): string => `${((r / ALLOWANCE) * 100).toFixed(1)} %`;
  const best = `${((ALLOWANCE * 1000) / WINDOW_MS).toFixed(2)}/s = ${pct((ALLOWANCE * 1000) / WINDOW_MS)} of ${ALLOWANCE}/s`;
  const window = maxInWindow(times, 1000);
  const partGrants = grants.filter((g) => expected.has(g.chat));
  // the worst window at the fake: how far apart were the send tokens of the messages in it?
  const inWorst = [...expected.keys()].flatMap((chat) => (inbox.byChat.get(chat) ?? []).filter((m) => m.at >= window.at && m.at < window.at + 1000).map((m) => m.chat_id));
  const worstTokens = inWorst.map((chat) => grantOf.get(chat)?.at).filter((x): x is number => x !== undefined);
  const worstSpan = worstTokens.length ? Math.max(...worstTokens) - Math.min(...worstTokens) : 0;
  const grantWindowBench = maxInWindow(
    partGrants.map((g) => g.at),
    1000,
  );
  const grantWindow = maxInWindow(
    partGrants.map((g) => g.now),
    1000,
  );
  const transit = [...expected.keys()].flatMap((chat) => {
    const m = inbox.byChat.get(chat)?.[0];
    const g = grantOf.get(chat);
    return m && g ? [m.at - g.at] : [];
  }).sort((a, b) => a - b);
  const attempts = rig.telegram.calls.slice(callsBefore).filter((c) => c.method.toLowerCase() === 'sendmessage');
  const attemptWindow = maxInWindow(
    attempts.map((c) => c.at),
    1000,
  );
  // the longest stretch with no sendMessage request at all while the burst drained (a full window is ~1 s)
  let silence = { ms: 0, at: 0 };
  const attemptTimes = attempts.map((c) => c.at).filter((t) => t <= last).sort((a, b) => a - b);
  for (let i = 1; i < attemptTimes.length; i++) {
    const gap = attemptTimes[i]! - attemptTimes[i - 1]!;
    if (gap > silence.ms) silence = { ms: gap, at: attemptTimes[i - 1]! - t0 };
  }
  let chatsTooFast = 0;
  for (const chat of expected.keys()) {
    const t = (inbox.byChat.get(chat) ?? []).map((m) => m.at).sort((a, b) => a - b);
    if (t.some((x, i) => i > 0 && x - t[i - 1]! < 1000)) chatsTooFast++;
  }
  const outbox = await rig.db.query<{ status: string; n: string }>(
    `SELECT n.status::text AS status, count(*)::text AS n FROM notifications n JOIN alert_rules r ON r.id = n.rule_id WHERE r.pair = $1 GROUP BY 1 ORDER BY 1`,
    [part.pair],
  );
  const outboxText = outbox.rows.map((r) => `${r.status} ${fmtInt(Number(r.n))}`).join(', ') || 'no rows';
  const fired = await rig.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM alert_rules WHERE pair = $1 AND state = 'fired'`, [part.pair]);

  const rows = [
    row(
      `${label} delivered, N = ${fmtInt(n)} chats`,
      `${fmtInt(n - lost)} of ${fmtInt(n)} chats got their alert: ${lost} lost, ${duplicated} duplicated, ${wrong} wrong text${noneArrived ? ' (not one alert arrived within 120 s of the tick)' : timedOut ? ` (gave up after ${fmtS(deadlineMs)})` : ''}; outbox: ${outboxText}; rules fired: ${fmtInt(Number(fired.rows[0]?.n ?? 0))}`,
      '0 lost, 0 duplicated',
      lost === 0 && duplicated === 0 && wrong === 0,
    ),
    row(
      `${label} drain rate vs Telegram's allowance (${ALLOWANCE}/s)${inject ? ', over the whole drain' : ''}`,
      delivered > 0
        ? `${rate.toFixed(2)} msg/s = ${pct(rate)} (${fmtInt(delivered)} messages, tick → last in ${fmtS(drainMs)}; first after ${fmtMs(first - t0)}; the app's limits allow at best ${best}: ${fmtS(ideal)})`
        : `0 msg/s: nothing delivered in ${fmtS(drainMs)} after the tick`,
      inject ? '— (includes the flood windows, when no client can send)' : `≥ 95 % of ${ALLOWANCE}/s`,
      inject ? 'info' : rate >= 0.95 * ALLOWANCE,
    ),
    ...(inject
      ? [
          row(
            `${label} drain rate vs ${ALLOWANCE}/s over the time Telegram allowed sending`,
            delivered > 0
              ? `${allowedRate.toFixed(2)} msg/s = ${pct(allowedRate)} (${fmtS(drainMs)} drain less ${fmtS(floodMs)} in ${injected.floodStarts.length} flood window(s) of ${fmtS(FLOOD_MS)} = ${fmtS(allowedMs)}; the app's limits allow at best ${best}: ${fmtS(ideal)})`
              : `0 msg/s: nothing delivered in ${fmtS(drainMs)} after the tick`,
            `≥ 95 % of ${ALLOWANCE}/s`,
            allowedRate >= 0.95 * ALLOWANCE,
          ),
        ]
      : []),
    row(
      `${label} limit violations`,
      `max ${window.max} messages in any 1 s window at the fake (${window.max > ALLOWANCE ? `at +${fmtMs(window.at - t0)} after the tick` : 'never over 30'}); ${chatsTooFast} chat(s) with 2 messages within 1 s; sendMessage requests incl. refused: max ${attemptWindow.max} in 1 s`,
      '≤ 30 per 1 s window, 0 chats',
      window.max <= ALLOWANCE && chatsTooFast === 0,
    ),
    row(
      `${label} the app's own limiter`,
      `${fmtInt(partGrants.length)} send tokens, max ${grantWindow.max} in any 1 s window of the app clock (${grantWindowBench.max} on the bench clock); the tokens of the ${inWorst.length} messages of the worst window at the fake were taken over ${fmtMs(worstSpan)}; longest time without any sendMessage request ${fmtMs(silence.ms)} (from +${fmtS(silence.at)}); token → arrival at the fake p50 ${transit.length ? fmtMs(percentile(transit, 50)) : 'n/a'}, p99 ${transit.length ? fmtMs(percentile(transit, 99)) : 'n/a'}, max ${transit.length ? fmtMs(transit[transit.length - 1]!) : 'n/a'}; longest event-loop stall ${fmtMs(loopDelay.max / 1e6)}`,
      '—',
      'info',
    ),
  ];
  if (inject) {
    const refused = attempts.length - (n - lost + duplicated);
    const sorted = [...times].sort((a, b) => a - b);
    const tailMs = sorted.length > 1 ? sorted[sorted.length - 1]! - sorted[sorted.length - 2]! : 0;
    rows.push(
      row(
        `${label} total time with 429s`,
        `${fmtS(drainMs)} for ${fmtInt(n - lost)} messages; injected ${injected.single} single 429s (retry_after 1–3 s) + ${injected.floods} flood window(s) of 2 s refusing ${injected.flood} calls; ${fmtInt(attempts.length)} sendMessage requests (${fmtInt(refused)} refused); the last message came ${fmtMs(tailMs)} after the one before (a chat refused near the end waits out its retry_after alone)`,
        '—',
        'info',
      ),
    );
  }
  return rows;
}

// ---- lifecycle ----

const cleanups: Array<{ what: string; fn: () => Promise<unknown> }> = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.splice(0).reverse()) {
      await withTimeout(Promise.resolve().then(c.fn), 15_000, c.what).catch((err: unknown) => console.error(`cleanup: ${c.what} failed: ${String(err)}`));
    }
  })();
  return cleaning;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  let unhandled = 0;
  // ccxt can reject a promise nobody awaits when a socket drops (as main.ts): counted, never fatal
  process.on('unhandledRejection', () => void (unhandled += 1));
  const budgetMs = 180_000 + 2 * ((CHATS / ALLOWANCE) * WINDOW_MS * 1.5 + 130_000);
  const watchdog = setTimeout(() => {
    console.error(`benchmark did not finish within ${fmtS(budgetMs)}; cleaning up and stopping`);
    void cleanup().finally(() => process.exit(1));
    setTimeout(() => process.exit(1), 60_000).unref();
  }, budgetMs);
  watchdog.unref();
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      console.error(`${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(code));
    });
  }

  const name = `maxflash_bench_delivery_${randomBytes(4).toString('hex')}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await admin(`CREATE DATABASE "${name}"`);
  cleanups.push({ what: 'drop the scratch database', fn: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) });
  if (ASYNC_COMMIT) await admin(`ALTER DATABASE "${name}" SET synchronous_commit = off`);

  const rows: string[] = [];
  const seedStarted = performance.now();
  const expected = await seed(url.toString());
  const seedMs = performance.now() - seedStarted;

  // Binance's 1 s ticker cadence: without it the feed calls the stream stale after STREAM_STALE_MS and reconnects
  const exchange = await startFakeBinance({ emitIntervalMs: 1_000, prices: Object.fromEntries(PARTS.map((p) => [p.symbol, p.start])) });
  cleanups.push({ what: 'close the fake Binance', fn: () => exchange.close() });
  const telegram = await startFakeTelegram({ now: clock });
  cleanups.push({ what: 'close the fake Telegram', fn: () => telegram.close() });

  const config = loadConfig({
    DATABASE_URL: url.toString(),
    DATA_DIR: os.tmpdir(),
    TELEGRAM_BOT_TOKEN: telegram.token,
    TELEGRAM_API_ROOT: telegram.apiRoot,
    EXCHANGES: 'binance',
    BINANCE_WS_URL: exchange.wsUrl,
    BINANCE_REST_URL: exchange.restUrl,
    TOP_PAIRS: '0',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
  });
  const stdin = Object.assign(new PassThrough(), { isTTY: false });
  const app = createApp(config, { log: createLogger('info', logSink), stdin, stdout: new PassThrough() });
  // registered before start: a start that fails half-way still stops what it started
  cleanups.push({ what: 'stop the app', fn: () => app.stop() });
  const bootStarted = performance.now();
  await app.start();
  await waitFor(() => rulesLoaded, 'the alert rules to load', 60_000, 10);
  // once the feed has subscribed every pair, one frame each gives the hub its price (without waiting for the cadence)
  await waitFor(
    () => PARTS.every((p) => exchange.subscriptions().some((c) => c.streams.includes(`${p.symbol.toLowerCase()}@ticker`))),
    'the feed to subscribe every pair',
    60_000,
    10,
  );
  for (const p of PARTS) exchange.setPrice(p.symbol, p.start);
  await waitFor(
    () => PARTS.every((p) => app.hub.latest('binance', p.pair)?.last === Number(p.start)),
    'a first price of every pair in the hub',
    60_000,
    10,
  );
  const bootMs = performance.now() - bootStarted;

  const db = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 10_000 });
  await db.connect();
  cleanups.push({ what: 'close the check connection', fn: () => db.end() });
  const rig: Rig = { exchange, telegram, app, expected, db };
  const inbox = new Inbox(telegram);

  phase = '(1)';
  rows.push(...(await oneAlert(rig, inbox)));
  let burstStuck = false;
  if (!ONE_ALERT_ONLY) {
    await sleep(1_500); // the 1 s windows of the runs above have passed
    phase = '(2)';
    const burstRows = await burstPart(rig, inbox, burst, '(2) burst', false);
    rows.push(...burstRows);
    burstStuck = burstRows.some((r) => r.includes('not one alert arrived'));
    await sleep(1_500);
    phase = '(3)';
    rows.push(...(await burstPart(rig, inbox, burst429, '(3) burst with 429s', true)));
  }
  phase = 'shutdown';

  clearTimeout(watchdog);
  console.log(
    `\ndelivery benchmark — node ${process.version}, PostgreSQL scratch db on ${url.host}, app in-process (createApp), fake Binance + fake Telegram on 127.0.0.1; chats N = ${fmtInt(CHATS)}, runs = ${RUNS}${ASYNC_COMMIT ? '; synchronous_commit = off (--async-commit)' : ''}`,
  );
  console.log(`seeded ${fmtInt(PARTS.reduce((a, p) => a + p.count, 0))} chats and rules in ${fmtS(seedMs)}; app up with every pair priced in ${fmtS(bootMs)}\n`);
  console.log('| measure | result | target | |');
  console.log('|---|---|---|---|');
  for (const line of rows) console.log(line);
  if (logCounts.size) {
    console.log('\napp warnings and errors during the run (count × level [module] message):');
    for (const [k, v] of [...logCounts].sort((a, b) => b[1] - a[1])) console.log(`  ${v} × ${k}`);
  }
  if (burstStuck) {
    console.log('\nnote: (2) never reached the outbox. The alert service commits firings one batch after another, so (3), which');
    console.log('      fires after it on the same app, waits behind it; see the errors above.');
  }
  if (unhandled > 0) console.log(`\n${unhandled} unhandled promise rejection(s) during the run`);
  console.log('\n(1) the time runs from just before the fake exchange writes the ticker frame to the fake Telegram receiving sendMessage (one clock).');
  console.log(`(2)(3) drain = tick → last alert at the fake; the app grants at most ${ALLOWANCE} per ${WINDOW_MS} ms (a second plus ${WINDOW_MS - 1000} ms for jitter), so N alerts take at least about (N/${ALLOWANCE})·${(WINDOW_MS / 1000).toFixed(3)} s.`);
  console.log('(3) the Bot API has no "global" flag on a 429: a flood window is every sendMessage refused for 2 s, whichever chat it is for;');
  console.log('    no client can send through one, so the ≥ 95 % check counts the drain time less the flood windows.');
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  console.error(`delivery benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
