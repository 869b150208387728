import { describe, expect, it } from 'vitest';
import { Prisma, type Watch } from '../../../src/generated/prisma/client.js';
import { dispatchCommand } from '../../../src/chat/commands/index.js';
import { parseWatchArgs } from '../../../src/chat/commands/watch.js';
import type { ChatRef, CommandServices } from '../../../src/chat/commands/types.js';
import { renderReply, renderWatchMessage } from '../../../src/chat/format.js';
import { MarketHub } from '../../../src/market/hub.js';
import { loadConfig } from '../../../src/config.js';
import { UserInputError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { MemoryFeed } from '../../helpers/memory-feed.js';

const log = createLogger('silent');
const chat: ChatRef = { platform: 'console', chatId: 'local', kind: 'private' };
const NOW = Date.UTC(2026, 10, 25, 14, 30, 0);
const config = loadConfig({ EXCHANGES: 'binance,okx' });

describe('parseWatchArgs', () => {
  it.each([
    ['BTC/USDT', { pair: 'BTC/USDT', exchange: 'binance', exchangeGiven: false }],
    ['eth 5%', { pair: 'ETH/USDT', exchange: 'binance', exchangeGiven: false, movePct: '5' }],
    ['SOL-USDT 2.5% on OKX', { pair: 'SOL/USDT', exchange: 'okx', exchangeGiven: true, movePct: '2.5' }],
    ['BTC USDT 3 %', { pair: 'BTC/USDT', exchange: 'binance', exchangeGiven: false, movePct: '3' }],
    ['btc ±1.50%', { pair: 'BTC/USDT', exchange: 'binance', exchangeGiven: false, movePct: '1.5' }],
    ['eth btc 0.1%', { pair: 'ETH/BTC', exchange: 'binance', exchangeGiven: false, movePct: '0.1' }],
    ['btc 50%', { pair: 'BTC/USDT', exchange: 'binance', exchangeGiven: false, movePct: '50' }],
  ])('/watch %s', (args, expected) => expect(parseWatchArgs(args, config, 'watch')).toEqual(expected));

  it.each([
    ['', 'Which pair? Add one after /watch.', '/watch BTC/USDT'],
    ['3%', 'Which pair? Put it before the percent.', '/watch BTC/USDT 3%'],
    ['BTC 3', 'Did you mean 3%? The threshold is a percent.', '/watch BTC/USDT 3%'],
    ['BTC +3%', 'A watch reports moves both ways, so its threshold has no sign. For one direction, use /alert BTC/USDT +3%.', '/watch BTC/USDT 3%'],
    ['BTC 0.05%', 'The threshold must be between 0.1% and 50%; 0.05% is out of range.', '/watch BTC/USDT 3%'],
    ['BTC 51%', 'The threshold must be between 0.1% and 50%; 51% is out of range.', '/watch BTC/USDT 3%'],
    ['BTC 0%', 'The threshold must be between 0.1% and 50%; 0% is out of range.', '/watch BTC/USDT 3%'],
    ['BTC 1.23456%', 'Thresholds take at most 4 decimals; "1.23456%" has more.', '/watch BTC/USDT 3%'],
    ['BTC lots%', '"lots%" isn\'t a percent I can read; write it like 3% or 2.5%.', '/watch BTC/USDT 3%'],
    ['btc eth sol 3%', '/watch takes one pair and an optional percent, got "btc eth sol 3%".', '/watch BTC/USDT 3%'],
    ['BTC on kraken', 'kraken is not enabled on this bot. Enabled: binance, okx.', '/watch BTC/USDT 3%'],
    ['💩 3%', '"💩" doesn\'t look like a trading pair. Write it as BASE/QUOTE.', '/watch BTC/USDT'],
  ])('/watch %j → %s', (args, message, example) => {
    const thrown = (() => {
      try {
        parseWatchArgs(args, config, 'watch');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(UserInputError);
    expect(thrown).toMatchObject({ message, example });
  });

  it('reads /unwatch arguments: a pair and, only when typed, the exchange', () => {
    expect(parseWatchArgs('sol on okx', config, 'unwatch')).toEqual({ pair: 'SOL/USDT', exchange: 'okx', exchangeGiven: true });
    expect(parseWatchArgs('sol', config, 'unwatch')).toEqual({ pair: 'SOL/USDT', exchange: 'binance', exchangeGiven: false });
    expect(() => parseWatchArgs('sol 3%', config, 'unwatch')).toThrow('/unwatch takes one pair, got "sol 3%".');
  });
});

type Alerts = NonNullable<CommandServices['alerts']>;

/** The watch half of AlertService, in memory: the command layer only needs its answers. */
function fakeWatches() {
  const rows: Watch[] = [];
  const calls: string[] = [];
  let nextId = 1;
  const unused = async (): Promise<never> => {
    throw new Error('not used by watch commands');
  };
  const alerts: Alerts = {
    maxWatchesPerChat: 50,
    create: unused,
    list: unused,
    delete: unused,
    async watch(_chat, input) {
      calls.push(`watch ${input.pair} ${input.exchange} ${input.movePct ?? '-'}`);
      const tick = { exchange: input.exchange, pair: input.pair, last: 100_000, changePct24h: 1.5, exchangeTs: NOW, receivedAt: NOW, source: 'rest' as const };
      const existing = rows.find((w) => w.pair === input.pair && w.exchange === input.exchange);
      if (existing) {
        const previousPct = existing.movePct.toString();
        if (input.movePct) existing.movePct = new Prisma.Decimal(input.movePct);
        return { watch: existing, updated: true, previousPct, count: rows.length, tick };
      }
      const watch: Watch = {
        id: nextId++, chatId: 1, exchange: input.exchange, pair: input.pair, movePct: new Prisma.Decimal(input.movePct ?? '3'),
        referencePrice: new Prisma.Decimal('100000'), lastNotifiedAt: null, createdAt: new Date(NOW),
      };
      rows.push(watch);
      return { watch, updated: false, count: rows.length, tick };
    },
    async unwatch(_chat, pair, exchange) {
      calls.push(`unwatch ${pair} ${exchange ?? '-'}`);
      const i = rows.findIndex((w) => w.pair === pair && (exchange === undefined || w.exchange === exchange));
      return i < 0 ? null : rows.splice(i, 1)[0]!;
    },
    async watchlist() {
      return [...rows];
    },
  };
  return { alerts, rows, calls };
}

function setup(withAlerts = true) {
  const feeds = config.exchanges.map((id) => new MemoryFeed(id, new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']), new Map([['ETH/USDT', 3456.789]]), () => NOW));
  const hub = new MarketHub({ feeds, log, now: () => NOW });
  const fake = fakeWatches();
  const services: CommandServices = { hub, config, now: () => NOW, ...(withAlerts ? { alerts: fake.alerts } : {}) };
  const say = async (text: string) => {
    const reply = await dispatchCommand(text, chat, { services, log });
    return reply && renderReply(reply, 'en');
  };
  return { say, feeds, ...fake };
}

describe('/watch, /unwatch, /watchlist', () => {
  it('adds a pair and says how to see and stop it', async () => {
    const { say, calls } = setup();
    expect(await say('/watch BTC/USDT')).toBe(
      '👀 Watching BTC/USDT on binance: a message each time it moves 3% either way.\n' +
        'Now 100,000.00 USDT. 1 of 50 pairs watched; /watchlist shows them, /unwatch BTC/USDT stops this one.',
    );
    expect(calls).toEqual(['watch BTC/USDT binance -']);
  });

  it('says so when watching a pair again changes its threshold, or changes nothing', async () => {
    const { say, rows } = setup();
    await say('/watch btc');
    rows[0]!.referencePrice = new Prisma.Decimal('98170');
    rows[0]!.lastNotifiedAt = new Date(Date.UTC(2026, 10, 25, 14, 2));
    expect(await say('/watch btc 2.5%')).toBe(
      '✏️ BTC/USDT on binance was already on the watchlist: threshold changed from 3% to 2.5%.\n' +
        'Now 100,000.00 USDT. Moves still count from 98,170.00 USDT (since 14:02 UTC).',
    );
    expect(await say('/watch btc 2.5%')).toBe('BTC/USDT on binance is already on the watchlist at 2.5%; nothing changed.\nNow 100,000.00 USDT. /unwatch BTC/USDT stops it.');
  });

  it('removes a pair, naming the exchange only when typed, and explains a pair that is not watched', async () => {
    const { say, calls } = setup();
    await say('/watch sol on okx');
    expect(await say('/unwatch sol on binance')).toBe("SOL/USDT on binance isn't on this chat's watchlist. /watchlist shows what is.\nExample: /watchlist");
    expect(await say('/unwatch sol')).toBe('Stopped watching SOL/USDT on okx.');
    expect(await say('/unwatch sol')).toBe("SOL/USDT isn't on this chat's watchlist. /watchlist shows what is.\nExample: /watchlist");
    expect(calls.slice(1)).toEqual(['unwatch SOL/USDT binance', 'unwatch SOL/USDT -', 'unwatch SOL/USDT -']);
  });

  it('lists every watched pair in one message: price, 24 h change, source and threshold', async () => {
    const { say, feeds } = setup();
    expect(await say('/watchlist')).toBe("Nothing on this chat's watchlist yet. Try /watch BTC/USDT for a message after every 3% move.");
    await say('/watch btc');
    await say('/watch eth 2.5%');
    await say('/watch sol 5% on okx');
    await say('/watch eth on okx');
    feeds[0]!.emit('BTC/USDT', 101_234.5);
    // ETH on binance has no cached price: one REST call fills it in
    feeds[1]!.emitTick({ exchange: 'okx', pair: 'SOL/USDT', last: 201.25, changePct24h: -0.42, exchangeTs: NOW - 300_000, receivedAt: NOW - 300_000, source: 'poll' });
    feeds[1]!.failRest = new Error('ECONNREFUSED');
    expect(await say('/watches')).toBe(
      [
        'Watchlist (4 of 50); a message after each move of ± the threshold:',
        'BTC/USDT on binance: 101,234.50 USDT ▲ +1.50% 24h · live stream · ±3%',
        'ETH/USDT on binance: 3,456.79 USDT ▲ +1.50% 24h · REST snapshot · ±2.5%',
        'SOL/USDT on okx: 201.25 USDT ▼ −0.42% 24h · polling (5 min ago) · ±5%',
        'ETH/USDT on okx: no price right now · ±3%',
        '',
        'Change a threshold with /watch <pair> <percent>, remove one with /unwatch <pair>.',
      ].join('\n'),
    );
  });

  it('says the watchlist is starting while the database opens', async () => {
    const { say } = setup(false);
    expect(await say('/watch btc')).toBe('The watchlist is still starting up (the database is opening). Try again in a few seconds.');
    expect(await say('/watchlist')).toBe('The watchlist is still starting up (the database is opening). Try again in a few seconds.');
  });
});

describe('renderWatchMessage', () => {
  const base = { watchId: 7, exchange: 'binance', pair: 'BTC/USDT', since: Date.UTC(2026, 10, 25, 14, 2), at: Date.UTC(2026, 10, 25, 16, 40), source: 'stream' as const };
  it.each([
    [{ price: 101_234.5, from: 98_170 }, '📈 BTC/USDT +3.12% to 101,234.50 USDT on binance (from 98,170.00 since 14:02 UTC)'],
    [{ price: 95_000, from: 98_170 }, '📉 BTC/USDT −3.23% to 95,000.00 USDT on binance (from 98,170.00 since 14:02 UTC)'],
    [{ price: 95_000, from: 98_170, at: Date.UTC(2026, 10, 26, 1) }, '📉 BTC/USDT −3.23% to 95,000.00 USDT on binance (from 98,170.00 since 2026-11-25 14:02 UTC)'],
    [
      { price: 101_234.5, from: 98_170, source: 'gapfill' as const },
      '📈 BTC/USDT +3.12% to 101,234.50 USDT on binance (from 98,170.00 since 14:02 UTC) (reached while the stream was down; found when it came back)',
    ],
  ])('%j', (over, text) => expect(renderWatchMessage('en', { ...base, ...over })).toBe(text));
});
