import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { AlertService } from '../../src/alerts/service.js';
import { watchRuleId } from '../../src/alerts/watches.js';
import { TelegramFront } from '../../src/chat/telegram.js';
import { alertButtons } from '../../src/chat/commands/buttons.js';
import type { CommandServices } from '../../src/chat/commands/types.js';
import { AlertPayload } from '../../src/delivery/notification.js';
import { createLogger } from '../../src/log.js';
import { engines } from '../helpers/db.js';
import { startTelegramStack, type TelegramStack } from '../helpers/telegram-stack.js';
import { MemoryFeed } from '../helpers/memory-feed.js';
import { groupChat, privateChat, tgUser, type Chat, type FakeTelegram, type User } from '../fakes/telegram.js';

/**
 * Languages through the real grammY against the fake Bot API, with AlertService on a real database: a
 * client set to Russian gets Russian replies and alerts, /language switches and the choice survives a
 * restart of the front, and a group follows only its admins' choice.
 */

const log = createLogger('silent');
const LISTED = new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);

/** A Telegram user whose client reports a language (language_code), as Telegram sends it with each update. */
const speaker = (id: number, name: string, languageCode?: string): User => ({ ...tgUser(id, name), ...(languageCode ? { language_code: languageCode } : {}) });

describe.each(engines)('languages on $name', (engine) => {
  let stack: TelegramStack;
  let db: Database;
  let feed: MemoryFeed;
  let service: AlertService;
  let services: CommandServices;
  let fake: FakeTelegram;
  let bot: TelegramFront;

  beforeAll(async () => {
    stack = await startTelegramStack(engine, { log, listed: LISTED, prices: new Map([['BTC/USDT', 100_000], ['ETH/USDT', 3_000]]) });
    ({ db, service, services, fake, bot } = stack);
    feed = stack.feeds[0]!;
  });

  afterAll(() => stack?.close());

  /** Sends a message and returns the bot's answer to it (updates are handled one after another). */
  /** Sends a message and returns the text of the bot's answer to it. */
  const ask = async (chat: Chat, from: User, text: string): Promise<string> => (await fake.ask(chat, from, text)).text;
  const chatRow = (chat: Chat) => db.prisma.chat.findUniqueOrThrow({ where: { platform_externalId: { platform: 'telegram', externalId: String(chat.id) } } });

  it('answers a client set to Russian in Russian, switches with /language en, and keeps the choice', async () => {
    const ivan = speaker(5001, 'Ivan', 'ru');
    const chat = privateChat(ivan);

    expect(await ask(chat, ivan, '/price BTC')).toMatch(/^BTC\/USDT на binance: 100,000\.00 USDT.*\nкотировка .+ · /);
    expect(await ask(chat, ivan, '/help')).toMatch(/^MaxFlash: курсы криптовалют в реальном времени и алерты\.\n\n\/price <пара> \[on <биржа>\] — /);
    expect(await ask(chat, ivan, '/language')).toBe('Язык: русский. Варианты: /language en (English), /language ru (русский).');
    expect(await ask(chat, ivan, '/alert BTC')).toBe('Чего ждать от BTC/USDT? Добавьте условие, например > 200, crosses 200 или +5%.\nПример: /alert BTC/USDT +5%');
    expect(await ask(chat, ivan, '/prcie')).toBe('Неизвестная команда /prcie. Может быть, /price? Все команды — в /help.');

    // three alerts, then five: Russian counts take different forms (алерта / алертов)
    for (const level of [110_000, 120_000, 130_000]) expect(await ask(chat, ivan, `/alert BTC/USDT > ${level}`)).toMatch(/^✅ Алерт #\d+: BTC\/USDT выше 1[123]0,000 \(binance\)\nСейчас 100,000\.00 USDT, на /);
    expect(await ask(chat, ivan, '/alerts')).toMatch(/^Алерты этого чата \(3 из 20\):\n#\d+ BTC\/USDT выше 110,000 · на binance\n/);
    expect(await ask(chat, ivan, '/delete all')).toBe('Удалены все 3 алерта этого чата.');
    for (let i = 1; i <= 5; i++) await ask(chat, ivan, `/alert ETH > ${4_000 + i}`);
    expect(await ask(chat, ivan, '/delete all')).toBe('Удалены все 5 алертов этого чата.');
    // nothing stored yet: the language came from the client, and is remembered for alerts
    expect(await chatRow(chat)).toMatchObject({ language: null, userLanguage: 'ru' });

    expect(await ask(chat, ivan, '/language en')).toBe('Done: I will answer in English here, alerts included.');
    expect((await chatRow(chat)).language).toBe('en');
    expect(await ask(chat, ivan, '/price BTC')).toMatch(/^BTC\/USDT on binance: 100,000\.00 USDT.*\nquote /);

    // a restarted front reads the choice back from the database, whatever the client says
    await bot.stop();
    stack.bot = bot = new TelegramFront({ token: fake.token, apiRoot: fake.apiRoot, services, log });
    await bot.start();
    expect(await ask(chat, ivan, '/alerts')).toBe('No active alerts in this chat. Set one with /alert BTC/USDT > 100000');
    expect(await ask(chat, ivan, '/language русский')).toBe('Готово: здесь я буду отвечать по-русски, и алерты тоже.');
    expect(await ask(chat, ivan, '/language klingon')).toBe('Язык «klingon» не поддерживается. Варианты: en (English), ru (русский).\nПример: /language ru');
    expect((await chatRow(chat)).language).toBe('ru');

    // a client switched to English is noted, so a chat that never chose gets English alerts too
    const petr = speaker(5006, 'Petr', 'ru');
    const other = privateChat(petr);
    await ask(other, petr, '/watch BTC');
    expect(await chatRow(other)).toMatchObject({ language: null, userLanguage: 'ru' });
    expect(await ask(other, { ...petr, language_code: 'en' }, '/watchlist')).toMatch(/^Watchlist \(1 of 50\)/);
    expect(await chatRow(other)).toMatchObject({ language: null, userLanguage: 'en' });
  });

  it('words a fired alert, its buttons and a watch message in the chat language', async () => {
    const olga = speaker(5002, 'Olga', 'ru-RU');
    const chat = privateChat(olga);
    const created = await ask(chat, olga, '/alert SOL/USDT > 300 -- пора продавать');
    const id = Number(/^✅ Алерт #(\d+):/.exec(created)![1]);
    expect(await ask(chat, olga, '/watch ETH 5%')).toMatch(/^👀 Отслеживаю ETH\/USDT на binance: сообщение всякий раз, когда цена сдвинется на 5% в любую сторону\.\nСейчас 3,000\.00 USDT\. Пар в списке: 1 из 50;/);

    feed.emit('SOL/USDT', 310);
    await expect.poll(() => db.prisma.notification.count({ where: { ruleId: id } })).toBe(1);
    const row = await db.prisma.notification.findFirstOrThrow({ where: { ruleId: id } });
    expect(row.text).toMatch(/^🔔 SOL\/USDT выше 300\nSOL\/USDT: 310 USDT на binance\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC · алерт #\d+\nЗаметка: пора продавать$/);
    const payload = AlertPayload.parse(row.payload);
    // webhook receivers keep the English wording of the condition, and learn the chat's language
    expect(payload).toMatchObject({ condition: 'SOL/USDT above 300', language: 'ru' });
    expect(await bot.send(String(chat.id), row.text, { buttons: alertButtons(payload) })).toEqual({ ok: true });
    expect(fake.sent().at(-1)!.reply_markup).toEqual({
      inline_keyboard: [[{ text: '🔁 Включить снова', callback_data: `rearm:${id}` }, { text: '⏰ Отложить на 1 ч', callback_data: `snooze:${id}:3600` }]],
    });
    const update = fake.callback(chat, olga, `rearm:${id}`, fake.sent().at(-1)!.message_id);
    const answer = await fake.waitForCall('answerCallbackQuery', (c) => c.payload['callback_query_id'] === update.callback_query!.id);
    expect(answer.payload['text']).toBe(`Алерт #${id} снова включён. Условие уже выполняется, поэтому он сработает со следующей ценой.`);

    feed.emit('ETH/USDT', 3_200);
    const watch = await db.prisma.watch.findFirstOrThrow({ where: { chat: { externalId: String(chat.id) } } });
    expect(service.engine.get(watchRuleId(watch.id))).toBeDefined();
    await expect.poll(() => db.prisma.notification.count({ where: { chat: { externalId: String(chat.id) }, dedupeKey: { startsWith: 'watch:' } } })).toBe(1);
    const moved = await db.prisma.notification.findFirstOrThrow({ where: { chat: { externalId: String(chat.id) }, dedupeKey: { startsWith: 'watch:' } } });
    expect(moved.text).toMatch(/^📈 ETH\/USDT \+6\.67% до 3,200\.00 USDT на binance \(от 3,000\.00 с \d\d:\d\d UTC\)$/);
  });

  it("answers a group in English whatever its members' clients say; only admins change its language", async () => {
    const group = groupChat(-1_000_000_005_003, 'Трейдеры');
    const admin = speaker(5004, 'Anna', 'ru');
    const member = speaker(5005, 'Boris', 'ru');
    fake.setRole(group.id, admin.id, 'administrator');

    expect(await ask(group, member, '/price BTC')).toMatch(/^BTC\/USDT on binance: /);
    expect(await ask(group, member, '/language ru')).toBe("Only this group's admins can change its settings.");
    expect(await ask(group, admin, '/language ru')).toBe('Готово: здесь я буду отвечать по-русски, и алерты тоже.');
    expect(await ask(group, member, '/price BTC')).toMatch(/^BTC\/USDT на binance: /);
    expect(await ask(group, member, '/language en')).toBe('Менять настройки этой группы могут только её администраторы.');
    expect(await chatRow(group)).toMatchObject({ language: 'ru', userLanguage: null });
  });
});
