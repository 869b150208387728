import type { Database } from '../../src/db/client.js';
import { AlertService } from '../../src/alerts/service.js';
import { TelegramFront } from '../../src/chat/telegram.js';
import type { CommandServices } from '../../src/chat/commands/types.js';
import { loadConfig } from '../../src/config.js';
import type { Logger } from '../../src/log.js';
import { MarketHub } from '../../src/market/hub.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram.js';
import type { TestEngine } from './db.js';
import { MemoryFeed } from './memory-feed.js';

export interface TelegramStack {
  db: Database;
  feeds: MemoryFeed[];
  hub: MarketHub;
  service: AlertService;
  services: CommandServices;
  fake: FakeTelegram;
  bot: TelegramFront;
  /** stops everything, in the order that lets each part finish what the next one needs */
  close(): Promise<void>;
}

export interface TelegramStackOptions {
  log: Logger;
  /** one memory feed per exchange, each listing every pair of `prices` */
  exchanges?: readonly string[];
  prices: ReadonlyMap<string, number>;
  maxRulesPerChat?: number;
}

/**
 * The bot as Telegram users meet it, minus delivery: the real grammY front against the fake Bot API,
 * commands on a real database, prices from memory feeds. For tests that type commands and read answers.
 */
export async function startTelegramStack(engine: TestEngine, opts: TelegramStackOptions): Promise<TelegramStack> {
  const exchanges = opts.exchanges ?? ['binance'];
  const maxRules = opts.maxRulesPerChat ?? 20;
  const db = await engine.open();
  const feeds = exchanges.map((id) => new MemoryFeed(id, new Set(opts.prices.keys()), new Map(opts.prices)));
  const hub = new MarketHub({ feeds, log: opts.log, now: Date.now });
  const service = new AlertService({ hub, log: opts.log, maxRulesPerChat: maxRules });
  await service.start(db.prisma);
  const config = loadConfig({ EXCHANGES: exchanges.join(','), MAX_RULES_PER_CHAT: String(maxRules) });
  const services: CommandServices = { hub, config, now: Date.now, alerts: service };
  const fake = await startFakeTelegram();
  const bot = new TelegramFront({ token: fake.token, apiRoot: fake.apiRoot, services, log: opts.log });
  await bot.start();
  return {
    db, feeds, hub, service, services, fake, bot,
    async close() {
      await bot.stop();
      await service.stop();
      await fake.close();
      await db.close();
    },
  };
}
