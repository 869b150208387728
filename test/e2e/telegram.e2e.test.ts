import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeBinance, type FakeBinance } from '../fakes/binance.js';
import { startFakeTelegram, tgUser, privateChat, type FakeTelegram } from '../fakes/telegram.js';
import { freePort, spawnBot, waitForHttp, type BotProcess } from '../helpers/spawn-bot.js';

/**
 * The built bot with a Telegram token: grammY long-polls the fake Bot API, /price and /alert answered
 * there, and a fired alert delivered through the outbox as a sendMessage.
 */
describe('bot on Telegram (fake Bot API) against the fake Binance', () => {
  let exchange: FakeBinance;
  let telegram: FakeTelegram;
  let bot: BotProcess;
  let dir: string;
  const alice = tgUser(1001, 'Alice', 'alice');
  const chat = privateChat(alice);

  beforeAll(async () => {
    exchange = await startFakeBinance({ emitIntervalMs: 1_000 });
    exchange.setPrice('ETHUSDT', '3000');
    telegram = await startFakeTelegram({ botUsername: 'MaxFlashTestBot' });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'maxflash-tg-'));
    const port = await freePort();
    bot = spawnBot({
      DATA_DIR: dir,
      HTTP_PORT: String(port),
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      BINANCE_WS_URL: exchange.wsUrl,
      BINANCE_REST_URL: exchange.restUrl,
    });
    await waitForHttp(`http://127.0.0.1:${port}/healthz`);
    await telegram.waitForCall('setMyCommands', () => true, 15_000);
  });

  afterAll(async () => {
    await bot?.stop();
    await telegram?.close();
    await exchange?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('answers /price through long polling', async () => {
    const asked = Date.now();
    telegram.userSays(chat, alice, '/price ETH/USDT');
    const reply = await telegram.waitForSent((m) => m.chat_id === String(chat.id) && m.text.startsWith('ETH/USDT on binance: 3,000'), 15_000);
    console.log(`[telegram e2e] /price round trip ${reply.at - asked} ms (first question, REST answer)`);
  });

  it('creates an alert and delivers it when the level is crossed', async () => {
    await bot.waitFor('stdout', /"msg":"alert rules loaded"/, 20_000);
    telegram.userSays(chat, alice, '/alert ETH/USDT > 3100 -- tg e2e');
    await telegram.waitForSent((m) => /^✅ Alert #\d+: ETH\/USDT above 3,100 \(binance\)/.test(m.text), 15_000);
    const crossedAt = Date.now();
    exchange.setPrice('ETHUSDT', '3150.5');
    const alert = await telegram.waitForSent((m) => m.text.startsWith('🔔 ETH/USDT above 3,100'), 15_000);
    expect(alert.text).toContain('ETH/USDT is 3,150.50 USDT on binance');
    expect(alert.text).toContain('Note: tg e2e');
    // a fired one-shot alert offers to re-arm or snooze it
    expect(JSON.stringify(alert.reply_markup)).toMatch(/Re-arm/);
    console.log(`[telegram e2e] price set on the exchange → alert at Telegram ${alert.at - crossedAt} ms`);
    expect(telegram.sent().filter((m) => m.text.startsWith('🔔')).length).toBe(1);
  });

  it('stops cleanly', async () => {
    expect(await bot.stop()).toBe(0);
    expect(bot.stdout.join('\n')).not.toMatch(/"level":"(error|fatal)"/);
    expect(bot.stdout.join('\n')).not.toContain(telegram.token.split(':')[1]!);
  });
});
