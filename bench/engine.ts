/**
 * How fast and how small the alert engine is at a million rules, next to the naive scan of the same rules.
 *
 *   npx tsx bench/engine.ts [rules=1000000] [pairs=2000]
 *
 * Memory is a heap delta around building the engine, which needs `global.gc`: without --expose-gc the script
 * re-runs itself as `node --expose-gc --import tsx bench/engine.ts`.
 *
 * Rules are a realistic mix (levels, crosses, moves, window moves; once and every; some expiring) spread
 * 2–30 % around each pair's price, and the measured ticks stay within ±0.5 % of it, so nothing fires: the
 * figure is what every tick costs, not what alerts cost.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AlertEngine } from '../src/alerts/engine.js';
import type { EngineRule, RepeatPolicy, RuleCondition } from '../src/alerts/types.js';
import type { PriceTick } from '../src/market/types.js';
import { NaiveEngine } from './naive-engine.js';

const gc = globalThis.gc;
if (typeof gc !== 'function') {
  const args = ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  process.exit(spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1);
}

const RULES = Number(process.argv[2] ?? 1_000_000);
const PAIRS = Number(process.argv[3] ?? 2_000);
const EXCHANGES = ['binance', 'okx', 'bybit'];
const T0 = Date.UTC(2025, 0, 1);
const ENGINE_TICKS = 2_000_000;
const LATENCY_TICKS = 300_000;
const NAIVE_TICKS = 40;

/** mulberry32: the same rules for the engine and for the naive scan without keeping them all twice */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Market {
  exchange: string;
  pair: string;
  price: number;
}

const markets: Market[] = Array.from({ length: PAIRS }, (_, i) => {
  const rand = prng(1000 + i);
  return { exchange: EXCHANGES[i % EXCHANGES.length]!, pair: `C${i}/USDT`, price: 10 ** (rand() * 8 - 3) };
});

function* rules(): Generator<EngineRule> {
  const rand = prng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const decimal = (x: number) => String(Number(x.toPrecision(6)));
  for (let id = 1; id <= RULES; id++) {
    const m = markets[Math.floor(rand() * PAIRS)]!;
    const away = 0.02 + rand() * 0.28;
    const above = rand() < 0.5;
    const level = decimal(m.price * (above ? 1 + away : 1 - away));
    const r = rand();
    const state: EngineRule['state'] = { armed: true, fireCount: 0 };
    let condition: RuleCondition;
    if (r < 0.5) condition = { kind: 'level', op: above ? pick(['>', '>=']) : pick(['<', '<=']), price: level };
    else if (r < 0.65) {
      condition = { kind: 'crosses', price: level };
      state.side = above ? 'below' : 'above';
    } else if (r < 0.85) {
      condition = { kind: 'move', direction: pick(['up', 'down', 'any']), percent: pick(['2', '3', '5', '10', '20']) };
      // half as loaded after a restart, half fresh (the reference comes from the first tick)
      if (rand() < 0.5) state.referencePrice = m.price;
    } else {
      const windowSec = pick([900, 3600, 14_400, 86_400]);
      condition = { kind: 'window_move', direction: pick(['up', 'down', 'any']), percent: pick(['2', '3', '5', '10', '20']), windowSec };
    }
    const repeat: RepeatPolicy = rand() < 0.7 ? { kind: 'once' } : { kind: 'every', cooldownSec: pick([300, 3600, 86_400]) };
    const rule: EngineRule = { id, exchange: m.exchange, pair: m.pair, condition, repeat, state };
    if (rand() < 0.2) rule.expiresAt = T0 + 30 * 86_400_000;
    yield rule;
  }
}

/** A pool of ticks within ±0.5 % of each pair's price, in random pair order; times are set when used. */
function tickPool(size: number, seed: number): PriceTick[] {
  const rand = prng(seed);
  return Array.from({ length: size }, () => {
    const m = markets[Math.floor(rand() * PAIRS)]!;
    const last = m.price * (1 + (rand() - 0.5) * 0.01);
    return { exchange: m.exchange, pair: m.pair, last, exchangeTs: 0, receivedAt: 0, source: 'stream' };
  });
}

/** Ticks that each set a new high or low for their pair's minute, so the price history changes on every tick. */
function extremePool(size: number): PriceTick[] {
  const rand = prng(5);
  return Array.from({ length: size }, (_, i) => {
    const m = markets[Math.floor(rand() * PAIRS)]!;
    const last = m.price * (1 + (i / size) * 0.005 * (i % 2 === 0 ? 1 : -1));
    return { exchange: m.exchange, pair: m.pair, last, exchangeTs: 0, receivedAt: 0, source: 'stream' };
  });
}

interface Evaluator {
  evaluate(tick: PriceTick): unknown[];
}

let clock = T0;
function feed(engine: Evaluator, tick: PriceTick): number {
  clock += 1;
  tick.exchangeTs = tick.receivedAt = clock;
  return engine.evaluate(tick).length;
}

/** Three ticks per pair a few minutes apart: first prices for fresh rules, and minutes in every window. */
function warmUp(engine: Evaluator): number {
  const rand = prng(7);
  let fired = 0;
  for (let round = 0; round < 3; round++) {
    clock += 120_000;
    for (const m of markets) {
      const last = m.price * (1 + (rand() - 0.5) * 0.01);
      fired += feed(engine, { exchange: m.exchange, pair: m.pair, last, exchangeTs: 0, receivedAt: 0, source: 'stream' });
    }
  }
  return fired;
}

function heapBytes(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Per-call times in µs, less the cost of reading the clock twice. */
function latencies(engine: Evaluator, ticks: readonly PriceTick[], count: number): Float64Array {
  const out = new Float64Array(count);
  let overhead = Infinity;
  for (let i = 0; i < 1000; i++) {
    const a = process.hrtime.bigint();
    overhead = Math.min(overhead, Number(process.hrtime.bigint() - a));
  }
  for (let i = 0; i < count; i++) {
    const tick = ticks[i % ticks.length]!;
    const a = process.hrtime.bigint();
    feed(engine, tick);
    out[i] = Math.max(0, Number(process.hrtime.bigint() - a) - overhead) / 1000;
  }
  return out.sort();
}

const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

console.log(`alert engine: ${fmt(RULES)} rules over ${fmt(PAIRS)} pairs, node ${process.version}\n`);

// ---- engine ----
const before = heapBytes();
let started = performance.now();
const engine = new AlertEngine();
for (const rule of rules()) engine.add(rule);
const loadMs = performance.now() - started;
const engineBytes = heapBytes() - before;
const warmFired = warmUp(engine);
// the store drains these in production; left here they would count as engine memory
const learned = engine.takeDirtyStates().size;
const engineWarmBytes = heapBytes() - before;
const pool = tickPool(1 << 16, 99);
let fired = 0;
for (let i = 0; i < 200_000; i++) fired += feed(engine, pool[i % pool.length]!);
started = performance.now();
for (let i = 0; i < ENGINE_TICKS; i++) fired += feed(engine, pool[i % pool.length]!);
const engineSec = (performance.now() - started) / 1000;
const engineLat = latencies(engine, pool, LATENCY_TICKS);
const extremes = extremePool(LATENCY_TICKS);
const extremeLat = latencies(engine, extremes, LATENCY_TICKS);

// ---- naive scan over the same rules ----
const naiveBefore = heapBytes();
const naive = new NaiveEngine();
for (const rule of rules()) naive.add(rule);
const naiveBytes = heapBytes() - naiveBefore;
// no warm-up round: at ~25 ms a tick, 6,000 ticks would take minutes, and the scan costs the same either way
for (let i = 0; i < 3; i++) fired += feed(naive, pool[i]!);
started = performance.now();
for (let i = 0; i < NAIVE_TICKS; i++) fired += feed(naive, pool[i]!);
const naiveSec = (performance.now() - started) / 1000;
const naiveLat = latencies(naive, pool, NAIVE_TICKS);

// a sanity check only (the property tests hold the two equal): the same ticks fire nothing in either
let disagreements = 0;
for (let i = 0; i < 200; i++) {
  const tick = { ...pool[i]!, exchangeTs: clock + 1000 + i };
  if (JSON.stringify(engine.evaluate(tick)) !== JSON.stringify(naive.evaluate(tick))) disagreements++;
}

const engineRate = ENGINE_TICKS / engineSec;
const naiveRate = NAIVE_TICKS / naiveSec;
const row = (label: string, e: string, n: string, extra = '') => console.log(`${label.padEnd(34)}${e.padStart(14)}${n.padStart(14)}${extra.padStart(14)}`);
row('', 'engine', 'naive', 'ratio');
row('ticks/s, nothing firing', fmt(engineRate), fmt(naiveRate, 1), `${fmt(engineRate / naiveRate)}×`);
row('mean µs per tick', fmt(1e6 / engineRate, 3), fmt(1e6 / naiveRate, 0));
row('p50 µs per evaluate', fmt(percentile(engineLat, 0.5), 3), fmt(percentile(naiveLat, 0.5), 0));
row('p99 µs per evaluate', fmt(percentile(engineLat, 0.99), 3), fmt(percentile(naiveLat, 0.99), 0));
row('p99.9 µs per evaluate', fmt(percentile(engineLat, 0.999), 3), '');
row('p50 µs, new high/low each', fmt(percentile(extremeLat, 0.5), 3), '');
row('p99 µs, new high/low each', fmt(percentile(extremeLat, 0.99), 3), '');
row('bytes per rule (loaded)', fmt(engineBytes / RULES), fmt(naiveBytes / RULES));
row('bytes per rule (+ history)', fmt(engineWarmBytes / RULES), '');
row('add() all rules, s (+ making them)', fmt(loadMs / 1000, 2), '');
console.log(`\nticks measured: engine ${fmt(ENGINE_TICKS)} (+${fmt(2 * LATENCY_TICKS)} timed one by one), naive ${NAIVE_TICKS} (+${NAIVE_TICKS})`);
console.log(`states learned from the first prices (moves without a reference): ${fmt(learned)}`);
console.log(`firings while measuring: ${fired} (engine warm-up: ${warmFired}); engine ≠ naive on 200 shared ticks: ${disagreements}`);
const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
console.log(
  `targets: ≥ 1000× naive ${verdict(engineRate / naiveRate >= 1000)}, < 2 µs per tick ${verdict(1e6 / engineRate < 2 && percentile(engineLat, 0.5) < 2)}, ` +
    `< 250 B per rule ${verdict(engineWarmBytes / RULES < 250)}`,
);
console.log('note: loading the rules from Postgres is measured elsewhere; "add() all rules" is the engine side of it.');
