import type { Database } from '../../src/db/client.js';
import { AlertService } from '../../src/alerts/service.js';
import { TelegramFront } from '../../src/chat/telegram.js';
import type { CommandServices } from '../../src/chat/commands/types.js';
import { loadConfig } from '../../src/config.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import { RateLimiter } from '../../src/delivery/limits.js';
import type { Logger } from '../../src/log.js';
import { MarketHub } from '../../src/market/hub.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram.js';
import type { TestEngine } from './db.js';
import { MemoryFeed } from './memory-feed.js';

export interface TelegramStack {
  db: Database;
  /** one per exchange, in the order given */
  feeds: MemoryFeed[];
  hub: MarketHub;
  service: AlertService;
  services: CommandServices;
  fake: FakeTelegram;
  bot: TelegramFront;
  /** only with `delivery: true` */
  dispatcher: Dispatcher | undefined;
  /** stops everything, in the order that lets each part finish what the next one needs */
  close(): Promise<void>;
}

export interface TelegramStackOptions {
  log: Logger;
  /** one memory feed per exchange, each listing every pair of `prices` */
  exchanges?: readonly string[];
  prices: ReadonlyMap<string, number>;
  /** pairs the feeds list (default: those of `prices`); a listed pair without a price has none yet */
  listed?: ReadonlySet<string>;
  maxRulesPerChat?: number;
  /** run a dispatcher too, wired as app.ts wires it, so firings reach the fake as messages */
  delivery?: boolean;
  /** the front's clock (e.g. to age its admin caches); everything else runs on real time */
  frontNow?: () => number;
}

/**
 * The bot as Telegram users meet it: the real grammY front against the fake Bot API, commands on a real
 * database, prices from memory feeds, and with `delivery` the outbox drained to the fake.
 */
export async function startTelegramStack(engine: TestEngine, opts: TelegramStackOptions): Promise<TelegramStack> {
  const exchanges = opts.exchanges ?? ['binance'];
  const maxRules = opts.maxRulesPerChat ?? 20;
  const db = await engine.open();
  const feeds = exchanges.map((id) => new MemoryFeed(id, new Set(opts.listed ?? opts.prices.keys()), new Map(opts.prices)));
  const hub = new MarketHub({ feeds, log: opts.log, now: Date.now });
  let dispatcher: Dispatcher | undefined;
  const service = new AlertService({ hub, log: opts.log, maxRulesPerChat: maxRules, onEnqueued: () => dispatcher?.wake() });
  await service.start(db.prisma);
  const config = loadConfig({ EXCHANGES: exchanges.join(','), MAX_RULES_PER_CHAT: String(maxRules) });
  const services: CommandServices = { hub, config, now: Date.now, alerts: service };
  const fake = await startFakeTelegram();
  // replies and alerts share one send budget, as in the app; without delivery, replies are not paced
  // (Telegram's 1/s per chat would make a test of fifty commands take a minute)
  const limiter = opts.delivery ? new RateLimiter() : undefined;
  const bot = new TelegramFront({ token: fake.token, apiRoot: fake.apiRoot, services, log: opts.log, ...(limiter ? { limiter } : {}), ...(opts.frontNow ? { now: opts.frontNow } : {}) });
  await bot.start();
  if (limiter) {
    dispatcher = new Dispatcher({ prisma: db.prisma, fronts: new Map([['telegram', bot]]), log: opts.log, limiter, idleMs: 100, onChatMigrated: (moved) => service.chatMigrated(moved) });
    await dispatcher.start();
  }
  return {
    db, feeds, hub, service, services, fake, bot, dispatcher,
    async close() {
      await dispatcher?.stop();
      await bot.stop();
      await service.stop();
      await fake.close();
      await db.close();
    },
  };
}
