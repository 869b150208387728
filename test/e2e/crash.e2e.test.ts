import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { upsertChat } from '../../src/db/chats.js';
import { createRule } from '../../src/alerts/store.js';
import { startFakeBinance, type FakeBinance } from '../fakes/binance.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram.js';
import { freePort, spawnBot, waitForHttp, type BotProcess } from '../helpers/spawn-bot.js';

/**
 * The delivery promise under a crash: 500 chats' alerts fire on one price move, the bot is killed with
 * SIGKILL mid-delivery, restarted on the same database, and every chat still gets its alert. A message
 * the platform accepted just before the kill may go out twice (at-least-once); the duplicates are counted
 * and bounded by the rows in flight at the kill.
 */
const CHATS = 500;

describe('crash mid-delivery (kill -9) and restart', () => {
  let exchange: FakeBinance;
  let telegram: FakeTelegram;
  let dir: string;
  let env: Record<string, string>;
  let bot: BotProcess | undefined;

  beforeAll(async () => {
    exchange = await startFakeBinance({ emitIntervalMs: 1_000 });
    exchange.setPrice('ETHUSDT', '3000');
    telegram = await startFakeTelegram({ botUsername: 'MaxFlashCrashBot' });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'maxflash-crash-'));
    // Seed the rules directly: 500 chats asking through Telegram would test the command path, not this.
    const db = await openDatabase({ dataDir: dir });
    for (let i = 0; i < CHATS; i++) {
      const chat = await upsertChat(db.prisma, { platform: 'telegram', externalId: String(5_000 + i), kind: 'private' });
      await createRule(db.prisma, {
        chatId: chat.id,
        spec: { pair: 'ETH/USDT', exchange: 'binance', condition: { kind: 'level', op: '>', price: '3100' }, repeat: { kind: 'once' } },
        source: '/alert ETH/USDT > 3100',
        state: { armed: true, fireCount: 0 },
        maxPerChat: 100,
      });
    }
    await db.close();
    env = {
      DATA_DIR: dir,
      HTTP_PORT: String(await freePort()),
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      BINANCE_WS_URL: exchange.wsUrl,
      BINANCE_REST_URL: exchange.restUrl,
    };
  }, 120_000);

  afterAll(async () => {
    await bot?.stop();
    await telegram?.close();
    await exchange?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('delivers every alert after a kill -9, with duplicates bounded by what was in flight', async () => {
    bot = spawnBot(env);
    await waitForHttp(`http://127.0.0.1:${env.HTTP_PORT}/healthz`);
    await bot.waitFor('stdout', /"msg":"alert rules loaded"/, 30_000);
    exchange.setPrice('ETHUSDT', '3150');

    const alerts = () => telegram.sent().filter((m) => m.text.startsWith('🔔 ETH/USDT above 3,100'));
    const killAfter = 100;
    await expect.poll(() => alerts().length, { timeout: 60_000, interval: 5 }).toBeGreaterThanOrEqual(killAfter);
    bot.child.kill('SIGKILL');
    await bot.exited;
    const sentBeforeKill = alerts().length;

    const db = await openDatabase({ dataDir: dir });
    const inFlight = await db.prisma.notification.count({ where: { status: 'sending' } });
    console.log('[crash] outbox at the kill', JSON.stringify(await db.prisma.notification.groupBy({ by: ['status'], _count: true })));
    const firedRules = await db.prisma.alertRule.count({ where: { state: 'fired' } });
    await db.close();

    bot = spawnBot(env);
    const distinct = () => new Set(alerts().map((m) => m.chat_id)).size;
    await expect.poll(distinct, { timeout: 120_000, interval: 100 }).toBe(CHATS);
    // let anything else in the queue drain before counting duplicates
    await new Promise((r) => setTimeout(r, 1_500));
    const total = alerts().length;
    const duplicates = total - CHATS;
    console.log(
      `[crash] ${CHATS} alerts: ${sentBeforeKill} sent before kill -9, ${inFlight} rows in flight at the kill, ${firedRules} rules had fired; after restart all ${CHATS} chats delivered, ${duplicates} duplicate(s)`,
    );
    expect(duplicates).toBeGreaterThanOrEqual(0);
    expect(duplicates).toBeLessThanOrEqual(inFlight);
  }, 240_000);
});
