import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { commandList, parseCommandLine } from '../../src/chat/commands/index.js';
import { createLogger } from '../../src/log.js';
import { engines } from '../helpers/db.js';
import { startTelegramStack, type TelegramStack } from '../helpers/telegram-stack.js';
import { channelChat, groupChat, privateChat, tgUser, type Chat, type FakeTelegram, type SentMessage, type User } from '../fakes/telegram.js';

/**
 * Every example that /help shows, for every command, typed into a private chat, a group by an admin and
 * by a member, and posted in a channel — through the real grammY client and a real database. Each gets
 * a real answer (never the apology for an internal error, never "unknown command"), and in groups the
 * commands that change things are refused to members and allowed to admins.
 */

const logLines: string[] = [];
const log = createLogger('debug', { write: (line: string) => void logLines.push(line) });

/**
 * Whether each command changes the chat's alerts, watchlist or settings. Listing every command here
 * means a new one cannot go untested: the first test fails until it is added.
 */
const CHANGES_THINGS: Readonly<Record<string, boolean>> = {
  price: false,
  alert: true,
  alerts: false,
  delete: true,
  watch: true,
  unwatch: true,
  watchlist: false,
  timezone: true,
  webhook: true,
  language: true,
  help: false,
  // links are a private chat's; in a group /channel only explains where to use it
  channel: false,
};

const APOLOGY = /Something went wrong on our side/;
const UNKNOWN = /^Unknown command/;
const REFUSED = /^Only this group's admins can change its/;

describe.each(engines)('every command in every kind of chat on $name', (engine) => {
  let stack: TelegramStack;
  let db: Database;
  let fake: FakeTelegram;
  const admin = tgUser(7001, 'Ada', 'ada');
  const member = tgUser(7002, 'Max');
  const group = groupChat(-1_007_000_000_001, 'Commands group');
  const channel = channelChat(-1_007_000_000_002, 'Commands channel');

  beforeAll(async () => {
    // the examples name all three venues
    const prices = new Map([['BTC/USDT', 100_000], ['ETH/USDT', 3_000], ['SOL/USDT', 150]]);
    stack = await startTelegramStack(engine, { log, exchanges: ['binance', 'bybit', 'okx'], prices, maxRulesPerChat: 50 });
    ({ db, fake } = stack);
    fake.setRole(group.id, admin.id, 'administrator');
    fake.setRole(group.id, member.id, 'member');
  });

  afterAll(() => stack?.close());

  async function answer(chat: Chat, from: User | null, text: string): Promise<SentMessage> {
    const before = fake.sent().length;
    if (from) fake.userSays(chat, from, text);
    else fake.channelPost(chat, text);
    return fake.waitForSent((m) => m.chat_id === String(chat.id) && fake.sent().indexOf(m) >= before);
  }

  // an example may show another command at work (/channel's shows "/alert … to @channel"): judge it by what it runs
  const examples = () => commandList().flatMap((c) => c.examples.map((example) => ({ command: parseCommandLine(example)!.name, example })));
  const rowsOf = (chat: Chat) =>
    db.prisma.chat.findUnique({ where: { platform_externalId: { platform: 'telegram', externalId: String(chat.id) } }, include: { rules: true, watches: true, webhook: true } });

  it('knows, for every command, whether it changes things', () => {
    expect(Object.keys(CHANGES_THINGS).sort()).toEqual(commandList().map((c) => c.name).sort());
  });

  const places: Array<[label: string, chatOf: () => Chat, fromOf: () => User | null]> = [
    ['a private chat', () => privateChat(admin), () => admin],
    ['a channel', () => channel, () => null],
  ];
  it.each(places)('answers every /help example in %s', async (_label, chatOf, fromOf) => {
    const chat = chatOf();
    const transcript: string[] = [];
    for (const { command, example } of examples()) {
      const reply = await answer(chat, fromOf(), example);
      expect(reply.text, example).not.toMatch(APOLOGY);
      expect(reply.text, example).not.toMatch(UNKNOWN);
      expect(reply.text, example).not.toMatch(REFUSED);
      expect(reply.text.length, example).toBeGreaterThan(0);
      transcript.push(`${example} → ${reply.text.split('\n')[0]!.slice(0, 100)}`);
      void command;
    }
    console.log(`[every example, ${_label}]\n  ${transcript.join('\n  ')}`);
    // the examples did what they say: alerts were made (and then deleted by "/delete all"), watches stay
    const row = await rowsOf(chat);
    expect(row?.rules.length).toBeGreaterThan(0);
    expect(row?.rules.filter((r) => r.state === 'active')).toEqual([]);
    expect(row?.watches.length).toBeGreaterThan(0);
    expect(row?.webhook).toBeNull(); // the last /webhook example is "off"
    expect(logLines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  });

  it("refuses a group member every command that changes the group's things, and nothing else", async () => {
    for (const { command, example } of examples()) {
      const reply = await answer(group, member, example);
      expect(reply.text, example).not.toMatch(APOLOGY);
      if (CHANGES_THINGS[command]) expect(reply.text, example).toMatch(REFUSED);
      else expect(reply.text, example).not.toMatch(REFUSED);
    }
    const row = await rowsOf(group);
    expect(row?.rules ?? []).toEqual([]);
    expect(row?.watches ?? []).toEqual([]);
  });

  it("lets a group admin run every command on the group's behalf", async () => {
    for (const { example } of examples()) {
      const reply = await answer(group, admin, example);
      expect(reply.text, example).not.toMatch(APOLOGY);
      expect(reply.text, example).not.toMatch(UNKNOWN);
      expect(reply.text, example).not.toMatch(REFUSED);
    }
    const row = await rowsOf(group);
    expect(row?.rules.length).toBeGreaterThan(0);
    expect(row?.watches.length).toBeGreaterThan(0);
    expect(logLines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  });
});
