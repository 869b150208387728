import { afterEach, describe, expect, it } from 'vitest';
import { withTimeout } from '../../src/lib/abort.js';
import { createLogger } from '../../src/log.js';
import { createFeed } from '../../src/market/feeds/index.js';
import { MarketHub } from '../../src/market/hub.js';
import { Poller, type PollOutcome } from '../../src/market/poller.js';
import { TopPairs } from '../../src/market/top-pairs.js';
import type { PriceTick } from '../../src/market/types.js';
import { startFakeBinance } from '../fakes/binance.js';
import { startFakeBybit } from '../fakes/bybit.js';
import type { FakeExchange } from '../fakes/common.js';
import { startFakeOkx } from '../fakes/okx.js';
import { waitFor } from '../helpers/wait.js';
import { recordUnhandledRejections } from '../helpers/unhandled.js';

/**
 * The REST fallback end to end against each local fake: real ccxt feed, hub and node-cron poller on a
 * one-second schedule. Waits are bounded and counted in poll rounds, never asserted in milliseconds.
 */

const unhandled = recordUnhandledRejections();


const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await withTimeout(cleanup(), 5000, 'cleanup').catch(() => undefined);
});

type Fake = FakeExchange<unknown>;

interface Venue {
  id: 'binance' | 'bybit' | 'okx';
  /** listed pairs of the fake (recorded + derived); synthetic P01… markets make up 20 */
  listed: string[];
  start(extraBases: string[]): Promise<Fake>;
  /** exchange symbol of a unified pair, for setPrice */
  symbol(pair: string): string;
  /** the REST path of the batched tickers request */
  tickersPath: string;
}

const usdt = (bases: string[]): string[] => bases.map((b) => `${b}/USDT`);
const VENUES: Venue[] = [
  {
    id: 'binance',
    listed: usdt(['BTC', 'ETH', 'ADA', 'LTC', 'XRP', 'DOGE', 'TRX']),
    start: (extraBases) => startFakeBinance({ emitIntervalMs: 100, extraBases }),
    symbol: (p) => p.replace('/', ''),
    tickersPath: '/api/v3/ticker/24hr',
  },
  {
    id: 'bybit',
    listed: usdt(['BTC', 'ETH', 'SOL', 'XRP', 'DOGE', 'ADA', 'LTC', 'TRX', 'DOT', 'LINK', 'AVAX', 'TON']),
    start: (extraBases) => startFakeBybit({ emitIntervalMs: 100, extraBases }),
    symbol: (p) => p.replace('/', ''),
    tickersPath: '/v5/market/tickers',
  },
  {
    id: 'okx',
    listed: usdt(['BTC', 'ETH', 'SOL', 'XRP', 'DOGE', 'ADA', 'LTC']),
    start: (extraBases) => startFakeOkx({ emitIntervalMs: 100, extraBases }),
    symbol: (p) => p.replace('/', '-'),
    tickersPath: '/api/v5/market/tickers',
  },
];

describe.each(VENUES)('one shared stream on the fake $id', (venue) => {
  it('carries 50 pairs, added while it is live, on exactly one WebSocket connection', async () => {
    const extra = Array.from({ length: 50 - venue.listed.length }, (_, i) => `P${String(i + 1).padStart(2, '0')}`);
    const pairs = [...venue.listed, ...usdt(extra)];
    const fake = await venue.start(extra);
    cleanups.push(() => fake.close());
    const log = createLogger('silent');
    const feed = createFeed(venue.id, { urls: { ws: fake.wsUrl, rest: fake.restUrl }, staleMs: 5000, log, subscribeGapMs: 100 });
    const hub = new MarketHub({ feeds: [feed], log });
    cleanups.push(() => hub.stop());
    const streamed = new Set<string>();
    hub.onTick((t) => void (t.source === 'stream' && streamed.add(t.pair)));
    hub.start();
    hub.subscribe(venue.id, pairs[0]!);
    await waitFor(() => streamed.has(pairs[0]!), 'the first pair streaming');
    // the rest join the live connection in a few waves, as users would add them
    for (const wave of [pairs.slice(1, 10), pairs.slice(10, 30), pairs.slice(30)]) {
      for (const p of wave) hub.subscribe(venue.id, p);
      await new Promise((r) => setTimeout(r, 150));
    }
    await waitFor(() => streamed.size === 50, 'all 50 pairs streaming', 20_000);
    expect(fake.connections).toMatchObject({ current: 1, total: 1 });
    expect(hub.status()[0]).toMatchObject({ state: 'streaming', symbols: 50, reconnects: 0 });
  });
});

describe.each(VENUES)('poller against the fake $id', (venue) => {
  it('takes over within one cron tick of a drop with ONE request per tick for 20 pairs, and stops once the stream is back', async () => {
    const extra = Array.from({ length: 20 - venue.listed.length }, (_, i) => `P${String(i + 1).padStart(2, '0')}`);
    const pairs = [...venue.listed, ...usdt(extra)];
    expect(pairs).toHaveLength(20);
    const fake = await venue.start(extra);
    cleanups.push(() => fake.close());
    const log = createLogger('silent');
    const feed = createFeed(venue.id, {
      urls: { ws: fake.wsUrl, rest: fake.restUrl }, staleMs: 3000, log, backoff: { baseMs: 50, capMs: 200 }, subscribeGapMs: 100,
    });
    const hub = new MarketHub({ feeds: [feed], log });
    cleanups.push(() => hub.stop());
    const ticks: PriceTick[] = [];
    hub.onTick((t) => void ticks.push(t));
    // per round: what the poller did, and the fake's count of batched ticker requests right after it
    const rounds: Array<PollOutcome & { hits: number }> = [];
    const poller = new Poller({
      hub, feeds: [feed], cron: '* * * * * *', log,
      onPoll: (o) => void rounds.push({ ...o, hits: fake.restHits[venue.tickersPath] ?? 0 }),
    });
    cleanups.push(() => poller.stop());
    const roundsAfter = (n: number, from: number): Promise<unknown> => waitFor(() => rounds.length >= from + n, `${n} poll rounds`);

    hub.start();
    for (const p of pairs) hub.subscribe(venue.id, p);
    for (const p of pairs) await waitFor(() => ticks.some((t) => t.pair === p && t.source === 'stream'), `a streamed ${p} tick`);
    poller.start();
    await roundsAfter(2, 0);
    expect(rounds.every((r) => r.outcome === 'skipped')).toBe(true);
    expect(fake.restHits[venue.tickersPath]).toBeUndefined();

    // the stream goes away; REST stays reachable
    fake.refuse(true, 'ws');
    fake.dropAll();
    const dropRound = rounds.length;
    await waitFor(() => hub.status()[0]?.state === 'polling', "state 'polling'");
    const firstOk = rounds.findIndex((r, i) => i >= dropRound && r.outcome === 'ok');
    // the round already due when the drop was noticed, or at worst the one after it: within one interval
    expect(firstOk).toBeGreaterThanOrEqual(dropRound);
    expect(firstOk - dropRound).toBeLessThanOrEqual(1);
    fake.setPrice(venue.symbol('ETH/USDT'), '3210.5');
    const from = ticks.length;
    await waitFor(() => ticks.slice(from).find((t) => t.pair === 'ETH/USDT' && t.source === 'poll' && t.last === 3210.5), 'the new price over REST');
    await roundsAfter(3, rounds.length);
    const polled = rounds.filter((r) => r.outcome === 'ok');
    expect(polled.length).toBeGreaterThanOrEqual(3);
    for (const r of polled) expect(r).toMatchObject({ pairs: 20, ticks: 20 });
    // exactly one batched request per round, whatever the number of pairs
    polled.forEach((r, i) => expect(r.hits).toBe(i + 1));

    // the stream comes back: polling ends and no further ticker request is made
    fake.refuse(false, 'ws');
    await waitFor(() => hub.status()[0]?.state === 'streaming', "state 'streaming'");
    const back = rounds.length;
    await roundsAfter(2, back);
    const hitsAtBack = rounds[back]!.hits;
    // the round that ran as the stream came back may still have polled; every one after it is skipped
    const later = rounds.slice(back + 1);
    expect(later.length).toBeGreaterThanOrEqual(1);
    for (const r of later) expect(r).toMatchObject({ outcome: 'skipped', hits: hitsAtBack });
    expect(hub.status()[0]?.state).toBe('streaming');
    expect(ticks.slice(-5).every((t) => t.source === 'stream')).toBe(true);
  });
});

describe.each(VENUES)('top pairs from one all-tickers request: $id', (venue) => {
  it('ranks by the fake\'s 24 h quote volume and streams the top ones', async () => {
    const fake = await venue.start([]);
    cleanups.push(() => fake.close());
    const log = createLogger('silent');
    const feed = createFeed(venue.id, { urls: { ws: fake.wsUrl, rest: fake.restUrl }, staleMs: 3000, log, subscribeGapMs: 100 });
    const hub = new MarketHub({ feeds: [feed], log });
    cleanups.push(() => hub.stop());
    const [first, second, third] = [venue.listed[3]!, venue.listed[1]!, venue.listed[5]!];
    for (const [pair, volume] of [[first, '9000000000'], [second, '8000000000'], [third, '7000000000']] as const) {
      fake.setPrice(venue.symbol(pair), '2', { quoteVolume: volume });
    }
    const volumes = await feed.fetchQuoteVolumes();
    expect([...volumes.keys()].sort()).toEqual([...venue.listed].sort());
    expect(volumes.get(first)).toBe(9e9);
    const top = new TopPairs({ hub, feeds: [feed], log, count: 3 });
    cleanups.push(() => top.stop());
    hub.start();
    top.start();
    await withTimeout(top.settled(), 10_000, 'ranking');
    expect(top.tracked(venue.id)).toEqual([first, second, third]);
    await waitFor(() => [first, second, third].every((p) => streamed(hub, p)), 'the top pairs streaming');
    // two all-tickers requests in all: the one above and the ranking's; nothing per pair
    expect(fake.restHits[venue.tickersPath]).toBe(2);
  });
});

const streamed = (hub: MarketHub, pair: string): boolean => hub.latest(hub.exchanges()[0]!, pair)?.source === 'stream';

it('let no promise rejection go unhandled during the whole file', () => {
  expect(unhandled).toEqual([]);
});
