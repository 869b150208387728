import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { AlertService } from '../../src/alerts/service.js';
import { TelegramFront } from '../../src/chat/telegram.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import { enqueue } from '../../src/delivery/outbox.js';
import { createLogger } from '../../src/log.js';
import { engines } from '../helpers/db.js';
import { startTelegramStack, type TelegramStack } from '../helpers/telegram-stack.js';
import { groupChat, tgUser, type Chat, type FakeTelegram, type SentMessage, type User } from '../fakes/telegram.js';
import { until } from '../helpers/wait.js';

/**
 * A Telegram group upgraded to a supergroup, against the fake Bot API with the real grammY, AlertService
 * and Dispatcher on a real database: the chat follows the group to its new id whether the bot hears of
 * the upgrade from Telegram's service messages or from a send to the old id being refused.
 */

const logLines: string[] = [];
const log = createLogger('debug', { write: (line: string) => void logLines.push(line) });
const LISTED = new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
const alice = tgUser(4001, 'Alice', 'alice');

describe.each(engines)('Telegram group → supergroup migration on $name', (engine) => {
  let stack: TelegramStack;
  let db: Database;
  let service: AlertService;
  let fake: FakeTelegram;
  let bot: TelegramFront;
  let dispatcher: Dispatcher;
  let next = 0;

  beforeAll(async () => {
    stack = await startTelegramStack(engine, { log, listed: LISTED, prices: new Map([['BTC/USDT', 100_000], ['ETH/USDT', 3_000]]), delivery: true });
    ({ db, service, fake, bot } = stack);
    dispatcher = stack.dispatcher!;
  });

  afterAll(() => stack?.close());

  /** an old-style group and the supergroup id it will get, fresh per test */
  function groups(title: string): { group: Chat; newId: number } {
    next++;
    return { group: groupChat(-4000 - next, title, 'group'), newId: -1_004_000_000_000 - next };
  }

  const ask = (chat: Chat, from: User, text: string): Promise<SentMessage> => fake.ask(chat, from, text);

  const chatRow = (id: number | string) => db.prisma.chat.findUnique({ where: { platform_externalId: { platform: 'telegram', externalId: String(id) } } });
  const migrationLogs = () => logLines.filter((l) => l.includes('group upgraded to a supergroup'));

  it('moves the chat with its rules, watches, webhook and waiting messages when Telegram announces the upgrade', async () => {
    const { group, newId } = groups('Old traders');
    fake.setRole(group.id, alice.id, 'administrator');
    expect((await ask(group, alice, '/alert BTC/USDT > 150000')).text).toMatch(/^✅ Alert #\d+/);
    expect((await ask(group, alice, '/watch ETH 5%')).text).toMatch(/^👀 Watching ETH\/USDT/);
    const before = (await chatRow(group.id))!;
    await db.prisma.webhook.create({ data: { chatId: before.id, url: 'https://example.com/hook', secret: 's' } });
    // a message waiting for its turn (not due for a minute) must follow the chat too
    await enqueue(db.prisma, [{ chatId: before.id, dedupeKey: `later:${newId}`, text: 'later', payload: { kind: 'notice' } }], new Date(Date.now() + 60_000));
    const logsBefore = migrationLogs().length;

    const supergroup = fake.migrateGroup(group, newId, alice);
    await until('the chat row to take the new id', async () => (await chatRow(newId)) !== null);
    const after = (await chatRow(newId))!;
    expect(after).toMatchObject({ id: before.id, kind: 'group', active: true });
    expect(await chatRow(group.id)).toBeNull();
    expect(await db.prisma.alertRule.count({ where: { chatId: after.id, state: 'active' } })).toBe(1);
    expect(await db.prisma.watch.count({ where: { chatId: after.id } })).toBe(1);
    expect(await db.prisma.webhook.count({ where: { chatId: after.id } })).toBe(1);
    expect(await db.prisma.notification.count({ where: { chatId: after.id, status: 'pending' } })).toBe(1);
    // both service messages arrived; the second found nothing left to move, so one line says it
    await until('both service messages handled', async () => fake.pending().length === 0);
    expect(migrationLogs().length - logsBefore).toBe(1);
    // commands in the supergroup find the same alerts
    fake.setRole(newId, alice.id, 'administrator');
    expect((await ask(supergroup, alice, '/alerts')).text).toContain('BTC/USDT above 150,000');
  });

  it('folds a row the bot already had for the supergroup into the group’s own', async () => {
    const { group, newId } = groups('Merging');
    const supergroup = groupChat(newId, 'Merging', 'supergroup');
    fake.setRole(group.id, alice.id, 'administrator');
    fake.setRole(newId, alice.id, 'administrator');
    expect((await ask(group, alice, '/alert BTC/USDT > 150000')).text).toMatch(/^✅ Alert #\d+/);
    expect((await ask(group, alice, '/watch ETH 5%')).text).toMatch(/^👀 Watching ETH\/USDT/);
    // the supergroup spoke to the bot before the upgrade reached it: a row of its own, with its own settings
    expect((await ask(supergroup, alice, '/alert ETH/USDT < 2000')).text).toMatch(/^✅ Alert #\d+/);
    expect((await ask(supergroup, alice, '/watch ETH 2%')).text).toMatch(/^👀 Watching ETH\/USDT/);
    expect((await ask(supergroup, alice, '/watch SOL 4%')).text).toMatch(/^👀 Watching SOL\/USDT/);
    const old = (await chatRow(group.id))!;
    const newer = (await chatRow(newId))!;

    fake.migrateGroup(group, newId, alice);
    await until('the old id to be gone', async () => (await chatRow(group.id)) === null);
    const merged = (await chatRow(newId))!;
    expect(merged.id).toBe(old.id);
    expect(await db.prisma.chat.findUnique({ where: { id: newer.id } })).toBeNull();
    expect((await db.prisma.alertRule.findMany({ where: { chatId: old.id }, orderBy: { id: 'asc' } })).map((r) => r.pair)).toEqual(['BTC/USDT', 'ETH/USDT']);
    // both had ETH: the supergroup's 2 % (set last) stays; SOL came along
    const watches = await db.prisma.watch.findMany({ where: { chatId: old.id }, orderBy: { pair: 'asc' } });
    expect(watches.map((w) => [w.pair, w.movePct.toString()])).toEqual([['ETH/USDT', '2'], ['SOL/USDT', '4']]);
    expect((await ask(supergroup, alice, '/alerts')).text).toMatch(/BTC\/USDT above 150,000[\s\S]*ETH\/USDT below 2,000/);
  });

  it('follows a refused send to the new id and sends there once, when the bot missed the announcement', async () => {
    const { group, newId } = groups('Quiet upgrade');
    fake.setRole(group.id, alice.id, 'administrator');
    expect((await ask(group, alice, '/alert BTC/USDT > 150000')).text).toMatch(/^✅ Alert #\d+/);
    const row = (await chatRow(group.id))!;
    fake.migrateGroup(group, newId, alice, { announce: false });
    const logsBefore = migrationLogs().length;

    await enqueue(db.prisma, [{ chatId: row.id, dedupeKey: `first:${newId}`, text: '🔔 first after the upgrade', payload: { kind: 'notice' } }], new Date());
    dispatcher.wake();
    const got = await fake.waitForSent((m) => m.text === '🔔 first after the upgrade', 10_000);
    expect(got.chat_id).toBe(String(newId));
    // the old id was tried once and refused with the new id
    const attempts = fake.callsOf('sendMessage').filter((c) => String(c.payload['text']) === '🔔 first after the upgrade');
    expect(attempts.map((c) => String(c.payload['chat_id']))).toEqual([String(group.id), String(newId)]);
    await until('the row marked sent', async () => (await db.prisma.notification.findUniqueOrThrow({ where: { dedupeKey: `first:${newId}` } })).status === 'sent');
    expect((await chatRow(newId))!.id).toBe(row.id);
    expect(await chatRow(group.id)).toBeNull();
    expect(migrationLogs().length - logsBefore).toBe(1);

    // later messages go straight to the new id
    await enqueue(db.prisma, [{ chatId: row.id, dedupeKey: `second:${newId}`, text: '🔔 second', payload: { kind: 'notice' } }], new Date());
    dispatcher.wake();
    expect((await fake.waitForSent((m) => m.text === '🔔 second', 10_000)).chat_id).toBe(String(newId));
    expect(fake.sent().filter((m) => m.text.startsWith('🔔 first') || m.text === '🔔 second')).toHaveLength(2);
  });
});
