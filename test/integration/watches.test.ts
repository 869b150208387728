import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { AlertService } from '../../src/alerts/service.js';
import { watchRuleId } from '../../src/alerts/watches.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import type { ChatRef } from '../../src/chat/commands/types.js';
import { MarketHub } from '../../src/market/hub.js';
import { createLogger } from '../../src/log.js';
import { clearChats, engines } from '../helpers/db.js';
import { MemoryFeed } from '../helpers/memory-feed.js';
import { RecordingFront } from '../helpers/recording-front.js';

const log = createLogger('silent');
const LISTED = new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
const START = Date.UTC(2026, 10, 25, 12, 0, 0);


const chat: ChatRef = { platform: 'console', chatId: 'local', kind: 'private', userId: 'u1' };

describe.each(engines)('watchlist on $name', ({ open }) => {
  let db: Database;
  let binance: MemoryFeed;
  let okx: MemoryFeed;
  let hub: MarketHub;
  let front: RecordingFront;
  let service: AlertService;
  let dispatcher: Dispatcher;
  let clock: number;
  let running = false;

  async function boot(): Promise<void> {
    const prices = () => new Map([['BTC/USDT', 100_000], ['ETH/USDT', 3_000], ['SOL/USDT', 200]]);
    binance = new MemoryFeed('binance', LISTED, prices(), () => clock);
    okx = new MemoryFeed('okx', LISTED, prices(), () => clock);
    hub = new MarketHub({ feeds: [binance, okx], log, now: () => clock });
    front = new RecordingFront();
    service = new AlertService({ hub, log, maxRulesPerChat: 3, maxWatchesPerChat: 2, now: () => clock, onEnqueued: () => dispatcher.wake() });
    dispatcher = new Dispatcher({ prisma: db.prisma, fronts: new Map([['console', front]]), log, now: () => clock, idleMs: 50 });
    await service.start(db.prisma);
    await dispatcher.start();
    running = true;
  }
  /** Also the way to wait for the writer: stop() returns once every firing so far is committed. */
  async function shutdown(): Promise<void> {
    if (!running) return;
    running = false;
    await dispatcher.stop();
    await service.stop();
  }
  const tick = (pair: string, last: number, feed = binance) => {
    clock += 1_000;
    feed.emit(pair, last);
  };
  const outbox = () => db.prisma.notification.findMany({ orderBy: { id: 'asc' } });
  const watchRow = (id: number) => db.prisma.watch.findUniqueOrThrow({ where: { id } });

  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    clock = START;
    await clearChats(db);
    await boot();
    return shutdown;
  });

  it('adds, updates the threshold of, lists and removes watches, with a per-chat cap', async () => {
    const added = await service.watch(chat, { exchange: 'binance', pair: 'BTC/USDT' });
    expect(added).toMatchObject({ updated: false, count: 1 });
    expect(added.watch.movePct.toString()).toBe('3');
    expect(added.watch.referencePrice?.toString()).toBe('100000');
    expect(service.engine.get(watchRuleId(added.watch.id))).toMatchObject({
      condition: { kind: 'move', direction: 'any', percent: '3' },
      repeat: { kind: 'every', cooldownSec: 0 },
      state: { referencePrice: 100_000 },
    });

    const changed = await service.watch(chat, { exchange: 'binance', pair: 'BTC/USDT', movePct: '2.5' });
    expect(changed).toMatchObject({ updated: true, previousPct: '3', count: 1 });
    expect(changed.watch.id).toBe(added.watch.id);
    expect((await watchRow(added.watch.id)).movePct.toString()).toBe('2.5');
    expect(service.engine.get(watchRuleId(added.watch.id))?.condition).toMatchObject({ percent: '2.5' });
    // no percent on a pair already watched keeps its threshold rather than resetting it to the default
    expect((await service.watch(chat, { exchange: 'binance', pair: 'BTC/USDT' })).watch.movePct.toString()).toBe('2.5');
    expect(binance.added).toEqual(['BTC/USDT']); // one subscription however often it is re-watched

    await service.watch(chat, { exchange: 'okx', pair: 'BTC/USDT', movePct: '5' });
    await expect(service.watch(chat, { exchange: 'binance', pair: 'ETH/USDT' })).rejects.toThrow(
      /already watches 2 pairs, the most allowed \(2\)\. Remove one with \/unwatch first/,
    );
    expect((await service.watch(chat, { exchange: 'okx', pair: 'BTC/USDT', movePct: '4' })).updated).toBe(true); // at the cap, updates still work
    expect((await service.watchlist(chat)).map((w) => `${w.pair} ${w.exchange} ${w.movePct.toString()}`)).toEqual(['BTC/USDT binance 2.5', 'BTC/USDT okx 4']);

    await expect(service.unwatch(chat, 'BTC/USDT')).rejects.toThrow('BTC/USDT is watched on binance and okx; say which one to stop.');
    expect(await service.unwatch({ ...chat, chatId: 'someone-else' }, 'BTC/USDT', 'okx')).toBeNull();
    expect((await service.unwatch(chat, 'BTC/USDT', 'okx'))?.exchange).toBe('okx');
    expect((await service.unwatch(chat, 'BTC/USDT'))?.exchange).toBe('binance');
    expect(await service.unwatch(chat, 'BTC/USDT')).toBeNull();
    expect(await service.watchlist(chat)).toEqual([]);
    expect(service.engine.size()).toBe(0);
  });

  it('speaks once per threshold move and measures the next one from the price it reported', async () => {
    const { watch } = await service.watch(chat, { exchange: 'binance', pair: 'BTC/USDT' });
    tick('BTC/USDT', 102_000); // +2%
    tick('BTC/USDT', 103_000); // +3%: the first message
    await expect.poll(async () => (await outbox()).length, { timeout: 5_000 }).toBe(1);
    const [first] = await outbox();
    expect(first).toMatchObject({ ruleId: null, dedupeKey: `watch:${watch.id}:${START + 2_000}` });
    expect(first!.text).toBe('📈 BTC/USDT +3.00% to 103,000.00 USDT on binance (from 100,000.00 since 12:00 UTC)');
    const row = await watchRow(watch.id);
    expect(row.referencePrice?.toString()).toBe('103000');
    expect(row.lastNotifiedAt?.getTime()).toBe(START + 2_000);

    tick('BTC/USDT', 100_500); // −2.4% from the new reference: nothing
    clock += 3_600_000;
    tick('BTC/USDT', 99_800); // −3.1% from 103,000
    await expect.poll(async () => (await outbox()).length, { timeout: 5_000 }).toBe(2);
    expect((await outbox())[1]!.text).toBe('📉 BTC/USDT −3.11% to 99,800.00 USDT on binance (from 103,000.00 since 12:00 UTC)');
    await expect.poll(() => front.sent.length, { timeout: 5_000 }).toBe(2);
    expect(front.sent[1]).toMatchObject({ chatId: 'local', text: (await outbox())[1]!.text });
  });

  it('does not spam while the price hovers within the threshold of the last message', async () => {
    await service.watch(chat, { exchange: 'binance', pair: 'BTC/USDT' });
    tick('BTC/USDT', 103_100);
    for (const p of [102_000, 104_000, 101_500, 105_500, 100_500, 103_100, 106_000]) tick('BTC/USDT', p);
    await shutdown();
    expect((await outbox()).map((n) => n.text)).toEqual(['📈 BTC/USDT +3.10% to 103,100.00 USDT on binance (from 100,000.00 since 12:00 UTC)']);
  });

  it('keeps the reference across a restart, so nothing re-fires, and the next move counts from the last message', async () => {
    const { watch } = await service.watch(chat, { exchange: 'binance', pair: 'BTC/USDT' });
    tick('BTC/USDT', 103_500);
    await shutdown(); // waits for the writer
    expect(await outbox()).toHaveLength(1);

    clock += 86_400_000; // the next day
    await boot();
    expect(service.engine.get(watchRuleId(watch.id))?.state.referencePrice).toBe(103_500);
    expect(binance.added).toEqual(['BTC/USDT']); // streaming again after the restart
    tick('BTC/USDT', 103_600);
    tick('BTC/USDT', 105_000);
    tick('BTC/USDT', 106_700); // +3.09% from 103,500
    await expect.poll(async () => (await outbox()).length, { timeout: 5_000 }).toBe(2);
    expect((await outbox())[1]!.text).toBe('📈 BTC/USDT +3.09% to 106,700.00 USDT on binance (from 103,500.00 since 2026-11-25 12:00 UTC)');
  });

  it('releases the subscription on unwatch, but not one another rule still holds', async () => {
    await service.watch(chat, { exchange: 'binance', pair: 'ETH/USDT' });
    await service.watch(chat, { exchange: 'binance', pair: 'BTC/USDT' });
    const rule = await service.create(chat, { pair: 'BTC/USDT', exchange: 'binance', repeat: { kind: 'once' }, condition: { kind: 'level', op: '>', price: '200000' } }, 'x');
    expect(hub.subscribedPairs('binance').sort()).toEqual(['BTC/USDT', 'ETH/USDT']);

    await service.unwatch(chat, 'ETH/USDT');
    expect(binance.removed).toEqual(['ETH/USDT']);
    await service.unwatch(chat, 'BTC/USDT');
    expect(binance.removed).toEqual(['ETH/USDT']); // the alert rule still needs BTC/USDT
    await service.delete(chat, rule.rule.id);
    expect(binance.removed).toEqual(['ETH/USDT', 'BTC/USDT']);

    tick('ETH/USDT', 4_000); // a price after unwatch speaks to no one
    await shutdown();
    expect(await outbox()).toEqual([]);
  });

  it('an unreachable chat leaves the engine until it watches again, and its watches come back with it', async () => {
    const eth = await service.watch(chat, { exchange: 'binance', pair: 'ETH/USDT' });
    const chatRow = await db.prisma.chat.findFirstOrThrow();
    // what the dispatcher does on a 403
    await db.prisma.chat.update({ where: { id: chatRow.id }, data: { active: false } });
    await service.pauseChat(chatRow.id);
    expect(service.engine.get(watchRuleId(eth.watch.id))).toBeUndefined();
    expect(binance.removed).toEqual(['ETH/USDT']);

    await shutdown();
    await boot();
    expect(service.engine.size()).toBe(0); // not loaded for an inactive chat

    await service.watch(chat, { exchange: 'okx', pair: 'SOL/USDT' }); // the chat speaks again
    expect(service.engine.get(watchRuleId(eth.watch.id))?.state.referencePrice).toBe(3_000);
    tick('ETH/USDT', 3_100);
    await expect.poll(async () => (await outbox()).length, { timeout: 5_000 }).toBe(1);
    expect((await outbox())[0]!.text).toContain('ETH/USDT +3.33% to 3,100.00 USDT on binance');
  });
});
