/**
 * How much market data one connection carries, what it costs at a realistic rate, and how fast outages
 * are noticed and bridged — real ccxt feed, hub and poller against the fake Binance on loopback.
 *
 *   npx tsx bench/ingest.ts [staleMs=15000]
 *
 * The fake runs in a child process (this same file with --fake-child, driven over IPC) so its sending
 * does not count against the bot's CPU. Figures:
 *   (a) ticker frames per second from the fake, through ccxt, into the hub, on one connection
 *   (b) the bot process's CPU share at 20 frames/s (20 pairs at Binance's 1 s cadence) over 10 s
 *   (c) time from a stream going silent to the feed calling it dropped (STREAM_STALE_MS and a short one)
 *   (d) time from a drop (WebSocket refused + cut) to the first polled price, POLL_CRON each 1 s and 30 s
 * Stops by itself: every wait is bounded, and the whole run is cut off after 4 minutes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { withTimeout } from '../src/lib/abort.js';
import { createLogger } from '../src/log.js';
import { createFeed, type StreamFeed } from '../src/market/feeds/index.js';
import { MarketHub } from '../src/market/hub.js';
import { Poller } from '../src/market/poller.js';
import type { PriceTick } from '../src/market/types.js';
import { startFakeBinance, type FakeBinance, type RefuseTarget } from '../test/fakes/binance.js';
import { waitFor as waitUntil } from '../test/helpers/wait.js';

/** benchmarks poll every 2 ms: the figures are detection times */
const waitFor = <T>(probe: () => T | undefined | false | null, what: string, ms: number): Promise<T> => waitUntil(probe, what, ms, 2);

// ---- the child: a fake Binance per 'start', driven by messages ----

type Command =
  | { cmd: 'start'; extraBases: string[]; emitIntervalMs: number }
  | { cmd: 'setEmitInterval'; fake: number; ms: number }
  | { cmd: 'setPrice'; fake: number; symbol: string; last: string }
  | { cmd: 'stall'; fake: number; on: boolean }
  | { cmd: 'refuse'; fake: number; on: boolean; what: RefuseTarget }
  | { cmd: 'dropAll'; fake: number }
  | { cmd: 'blast'; fake: number; symbols: string[]; count: number }
  | { cmd: 'close'; fake: number };
type Request = Command & { id: number };
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

async function serveFakes(): Promise<void> {
  const fakes = new Map<number, FakeBinance>();
  const fakeOf = (n: number): FakeBinance => {
    const f = fakes.get(n);
    if (!f) throw new Error(`no fake #${n}`);
    return f;
  };
  const run = async (c: Command): Promise<unknown> => {
    switch (c.cmd) {
      case 'start': {
        const fake = await startFakeBinance({ emitIntervalMs: c.emitIntervalMs, extraBases: c.extraBases });
        fakes.set(fakes.size + 1, fake);
        return { fake: fakes.size, restUrl: fake.restUrl, wsUrl: fake.wsUrl };
      }
      case 'setEmitInterval':
        return fakeOf(c.fake).setEmitInterval(c.ms);
      case 'setPrice':
        return fakeOf(c.fake).setPrice(c.symbol, c.last);
      case 'stall':
        return fakeOf(c.fake).stall(c.on);
      case 'refuse':
        return fakeOf(c.fake).refuse(c.on, c.what);
      case 'dropAll':
        return fakeOf(c.fake).dropAll();
      case 'blast': {
        const t0 = performance.now();
        const out = await fakeOf(c.fake).blast(c.symbols, c.count);
        return { ...out, ms: performance.now() - t0 };
      }
      case 'close':
        return fakeOf(c.fake).close();
    }
  };
  process.on('message', (msg: Request) => {
    run(msg).then(
      (value) => process.send?.({ id: msg.id, ok: true, value } satisfies Reply),
      (err: unknown) => process.send?.({ id: msg.id, ok: false, error: String(err) } satisfies Reply),
    );
  });
  // the parent going away (even killed) must not leave a server behind
  process.on('disconnect', () => process.exit(0));
}

// ---- the bot side ----

class RemoteFakes {
  private seq = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  constructor(private readonly child: ChildProcess) {
    child.on('message', (r: Reply) => {
      this.waiting.get(r.id)?.(r);
      this.waiting.delete(r.id);
    });
  }
  async call<T>(c: Command, ms = 30_000): Promise<T> {
    const id = ++this.seq;
    const reply = new Promise<Reply>((resolve) => this.waiting.set(id, resolve));
    this.child.send({ ...c, id } satisfies Request);
    const r = await withTimeout(reply, ms, `fake ${c.cmd}`);
    if (!r.ok) throw new Error(`fake ${c.cmd}: ${r.error}`);
    return r.value as T;
  }
}

interface Remote {
  fake: number;
  restUrl: string;
  wsUrl: string;
}

const log = createLogger('silent');
const cleanups: Array<() => Promise<unknown>> = [];
let unhandled = 0;


const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

interface Rig {
  remote: Remote;
  feed: StreamFeed;
  hub: MarketHub;
  ticks: { count: number; last: PriceTick | undefined };
}

const extra = (n: number): string[] => Array.from({ length: n }, (_, i) => `P${String(i + 1).padStart(2, '0')}`);
const RECORDED = ['BTC', 'ETH', 'ADA', 'LTC', 'XRP', 'DOGE', 'TRX'];

/** A fake, a feed on it and a hub, streaming `pairs` pairs (7 recorded markets + synthetic ones). */
async function rig(fakes: RemoteFakes, pairs: number, staleMs: number, emitIntervalMs: number): Promise<Rig> {
  const bases = [...RECORDED, ...extra(Math.max(0, pairs - RECORDED.length))].slice(0, pairs);
  // a quick cadence until every pair has streamed, then the cadence the measurement wants
  const remote = await fakes.call<Remote>({ cmd: 'start', extraBases: extra(Math.max(0, pairs - RECORDED.length)), emitIntervalMs: 100 });
  cleanups.push(() => fakes.call({ cmd: 'close', fake: remote.fake }, 5000));
  const feed = createFeed('binance', { urls: { ws: remote.wsUrl, rest: remote.restUrl }, staleMs, log, backoff: { baseMs: 100, capMs: 500 } });
  const hub = new MarketHub({ feeds: [feed], log });
  cleanups.push(() => hub.stop());
  const ticks: Rig['ticks'] = { count: 0, last: undefined };
  hub.onTick((t) => {
    ticks.count += 1;
    ticks.last = t;
  });
  hub.start();
  for (const b of bases) hub.subscribe('binance', `${b}/USDT`);
  await waitFor(() => feed.status().state === 'streaming' && bases.every((b) => hub.latest('binance', `${b}/USDT`)), 'every pair streaming', 20_000);
  await fakes.call({ cmd: 'setEmitInterval', fake: remote.fake, ms: emitIntervalMs });
  return { remote, feed, hub, ticks };
}

async function throughput(fakes: RemoteFakes): Promise<string[]> {
  const r = await rig(fakes, 20, 60_000, 0);
  const symbols = r.feed.pairs().size === 20 ? [...r.feed.pairs()].map((p) => p.replace('/', '')) : [];
  const blast = async (count: number): Promise<{ frames: number; ms: number; ticks: number; sendMs: number; cpu: number }> => {
    const before = r.ticks.count;
    const [t0, cpu0] = [performance.now(), process.cpuUsage()];
    const out = await fakes.call<{ sent: number; last: Record<string, string>; ms: number }>({ cmd: 'blast', fake: r.remote.fake, symbols, count }, 120_000);
    const done = (): boolean => Object.entries(out.last).every(([s, last]) => r.hub.latest('binance', s.replace(/USDT$/, '/USDT'))?.last === Number(last));
    await waitFor(done, 'the last blasted price of every pair in the hub', 60_000);
    const [ms, cpu] = [performance.now() - t0, process.cpuUsage(cpu0)];
    return { frames: out.sent, ms, ticks: r.ticks.count - before, sendMs: out.ms, cpu: ((cpu.user + cpu.system) / 1000 / ms) * 100 };
  };
  await blast(20_000); // warm-up: JIT and socket buffers
  const runs = [await blast(200_000), await blast(200_000)];
  return runs.map((m, i) => {
    const rate = (m.frames / m.ms) * 1000;
    return row(
      `(a) throughput, 1 connection, 20 pairs, run ${i + 1}`,
      `${fmtInt(rate)} frames/s (${fmtInt(m.frames)} frames in ${sec(m.ms)}, bot process at ${m.cpu.toFixed(0)} % of a core; ${fmtInt((m.ticks / m.ms) * 1000)} hub ticks/s, as the feed emits each pair's latest once per wake-up)`,
      '≥ 20,000/s',
      rate >= 20_000,
    );
  });
}

async function cpuShare(fakes: RemoteFakes): Promise<string[]> {
  const r = await rig(fakes, 20, 15_000, 1000);
  await new Promise((res) => setTimeout(res, 2000)); // settle past start-up work
  const [before, cpu0, t0] = [r.ticks.count, process.cpuUsage(), performance.now()];
  await new Promise((res) => setTimeout(res, 10_000));
  const [cpu, wall] = [process.cpuUsage(cpu0), performance.now() - t0];
  const share = ((cpu.user + cpu.system) / 1000 / wall) * 100;
  const rate = ((r.ticks.count - before) / wall) * 1000;
  return [row('(b) CPU at a realistic rate', `${share.toFixed(2)} % of one core (${rate.toFixed(1)} ticks/s for ${sec(wall)}; user ${fmtInt(cpu.user / 1000)} ms, system ${fmtInt(cpu.system / 1000)} ms)`, '< 5 %', share < 5)];
}

async function staleDetection(fakes: RemoteFakes, staleMs: number, runs: number): Promise<string[]> {
  const r = await rig(fakes, 1, staleMs, 1000);
  const out: number[] = [];
  const sinceLast: number[] = [];
  for (let i = 0; i < runs; i++) {
    await waitFor(() => r.feed.status().state === 'streaming', 'streaming', staleMs * 3 + 10_000);
    // stall just after a frame, as Binance's 1 s cadence would have it at a random point otherwise
    const seen = r.ticks.count;
    await waitFor(() => r.ticks.count > seen, 'a frame', 5000);
    await fakes.call({ cmd: 'stall', fake: r.remote.fake, on: true });
    const t0 = Date.now();
    await waitFor(() => r.feed.status().state !== 'streaming', 'the stale verdict', staleMs * 2 + 5000);
    const t1 = Date.now();
    out.push(t1 - t0);
    sinceLast.push(t1 - (r.feed.status().lastMessageAt ?? t0));
    await fakes.call({ cmd: 'stall', fake: r.remote.fake, on: false });
  }
  const worst = Math.max(...out);
  return [row(
    `(c) silent stream noticed, STREAM_STALE_MS=${staleMs}${runs > 1 ? `, ${runs} runs` : ''}`,
    `${runs > 1 ? `${sec(Math.min(...out))} – ${sec(worst)}` : sec(worst)} after the stall (${runs > 1 ? `up to ${sec(Math.max(...sinceLast))}` : sec(Math.max(...sinceLast))} after the last frame)`,
    `≤ ${sec(staleMs + 1000)}`,
    worst <= staleMs + 1000,
  )];
}

async function dropToPoll(fakes: RemoteFakes, cronExpr: string, intervalMs: number, runs: number): Promise<string[]> {
  const r = await rig(fakes, 5, 15_000, 1000);
  const poller = new Poller({ hub: r.hub, feeds: [r.feed], cron: cronExpr, log });
  poller.start();
  cleanups.push(() => poller.stop());
  const polls: number[] = [];
  let lastPollAt = 0;
  r.hub.onTick((t) => {
    if (t.source === 'poll') lastPollAt = Date.now();
  });
  for (let i = 0; i < runs; i++) {
    await waitFor(() => r.feed.status().state === 'streaming', 'streaming', 20_000);
    if (i > 0) await new Promise((res) => setTimeout(res, 137 * i)); // a different phase of the schedule each run
    await fakes.call({ cmd: 'refuse', fake: r.remote.fake, on: true, what: 'ws' });
    await fakes.call({ cmd: 'dropAll', fake: r.remote.fake });
    const t0 = Date.now();
    lastPollAt = 0;
    await waitFor(() => lastPollAt > 0, 'the first polled price', intervalMs + 15_000);
    polls.push(lastPollAt - t0);
    await fakes.call({ cmd: 'refuse', fake: r.remote.fake, on: false, what: 'ws' });
  }
  const worst = Math.max(...polls);
  return [row(
    `(d) drop → first polled price, POLL_CRON=${cronExpr}${runs > 1 ? `, ${runs} runs` : ''}`,
    runs > 1 ? `${sec(Math.min(...polls))} – ${sec(worst)} (median ${sec([...polls].sort((a, b) => a - b)[Math.floor(runs / 2)]!)})` : sec(worst),
    `≤ ${sec(intervalMs)}`,
    worst <= intervalMs,
  )];
}

function row(what: string, result: string, target: string, met: boolean): string {
  return `| ${what} | ${result} | ${target} | ${met ? 'met' : 'NOT met'} |`;
}

async function main(): Promise<void> {
  const staleMs = Number(process.argv[2] ?? 15_000);
  if (!Number.isInteger(staleMs) || staleMs < 100) throw new Error(`usage: npx tsx bench/ingest.ts [staleMs=15000] (got ${process.argv[2]})`);
  process.on('unhandledRejection', () => void (unhandled += 1));
  const child = fork(fileURLToPath(import.meta.url), ['--fake-child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const cutoff = setTimeout(() => {
    console.error('benchmark did not finish within 4 minutes; stopping');
    child.kill();
    process.exit(1);
  }, 240_000);
  cutoff.unref();
  const fakes = new RemoteFakes(child);
  const rows: string[] = [];
  try {
    rows.push(...(await throughput(fakes)));
    await cleanup();
    rows.push(...(await cpuShare(fakes)));
    await cleanup();
    // the long waits run side by side; none of them is CPU-bound
    const parallel = await Promise.all([
      staleDetection(fakes, staleMs, 1),
      staleDetection(fakes, 2000, 5),
      dropToPoll(fakes, '* * * * * *', 1000, 5),
      dropToPoll(fakes, '*/30 * * * * *', 30_000, 1),
    ]);
    rows.push(...parallel.flat());
  } finally {
    await cleanup();
    child.kill();
  }
  console.log(`\ningest benchmark — node ${process.version}, ccxt ${await ccxtVersion()}, fake Binance on 127.0.0.1 in a child process\n`);
  console.log('| measure | result | target | |');
  console.log('|---|---|---|---|');
  for (const line of rows) console.log(line);
  if (unhandled > 0) console.log(`\n${unhandled} unhandled promise rejection(s) during the run`);
  console.log('\n(c) the watchdog checks every min(staleMs/4, 1 s), so a silent stream is called dropped within staleMs + 1 s of its last frame.');
  console.log('(d) a drop polls at once, at most once per 5 s per exchange; a drop within 5 s of the last such poll waits for the cron,');
  console.log('    up to one interval. Add the REST call itself (the REST client\'s rate limiter runs on a rolling window, so an idle client does not wait).');
}

async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await withTimeout(c(), 6000, 'cleanup').catch(() => undefined);
}

/** From the installed package.json: ccxt's own `version` constant lags a release (4.5.84 says 4.5.83). */
async function ccxtVersion(): Promise<string> {
  const file = new URL('../node_modules/ccxt/package.json', import.meta.url);
  const pkg: unknown = JSON.parse(await readFile(file, 'utf8').catch(() => '{}'));
  const version = typeof pkg === 'object' && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
  return typeof version === 'string' ? version : 'unknown';
}

if (process.argv.includes('--fake-child')) {
  await serveFakes();
} else {
  await main();
  process.exit(0);
}
