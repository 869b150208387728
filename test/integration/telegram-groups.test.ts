import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { AlertService } from '../../src/alerts/service.js';
import { watchRuleId } from '../../src/alerts/watches.js';
import { TelegramFront } from '../../src/chat/telegram.js';
import { alertButtons } from '../../src/chat/commands/buttons.js';
import type { ChatRef } from '../../src/chat/commands/types.js';
import { AlertPayload } from '../../src/delivery/notification.js';
import { createLogger } from '../../src/log.js';
import { MarketHub } from '../../src/market/hub.js';
import { engines } from '../helpers/db.js';
import { startTelegramStack, type TelegramStack } from '../helpers/telegram-stack.js';
import { MemoryFeed } from '../helpers/memory-feed.js';
import { channelChat, groupChat, privateChat, tgUser, type Chat, type FakeTelegram, type SentMessage, type User } from '../fakes/telegram.js';

/**
 * The real grammY against the fake Bot API, with AlertService on a real database: who may change a
 * group's alerts, what happens when the bot is removed, blocked or added back, and the buttons under
 * /alerts and under fired alerts. Nothing here sends alerts (no dispatcher): firings are checked in the
 * outbox table, and alert messages are sent through TelegramFront.send as the dispatcher would.
 */

const logLines: string[] = [];
const log = createLogger('debug', { write: (line: string) => void logLines.push(line) });
const LISTED = new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);

const alice = tgUser(2001, 'Alice', 'alice');
const bob = tgUser(2002, 'Bob');
const carol = tgUser(2003, 'Carol');
const ALERTS_REFUSED = "Only this group's admins can change its alerts.";
const WATCHLIST_REFUSED = "Only this group's admins can change its watchlist.";

describe.each(engines)('Telegram groups, membership and buttons on $name', (engine) => {
  let stack: TelegramStack;
  let db: Database;
  let feed: MemoryFeed;
  let service: AlertService;
  let fake: FakeTelegram;
  let bot: TelegramFront;
  let nextChat = 0;

  beforeAll(async () => {
    stack = await startTelegramStack(engine, { log, listed: LISTED, prices: new Map([['BTC/USDT', 100_000], ['ETH/USDT', 3_000]]) });
    ({ db, service, fake, bot } = stack);
    feed = stack.feeds[0]!;
  });

  afterAll(() => stack?.close());

  /** a group of its own per test, so the admin cache and rows of one test never meet another's */
  const freshGroup = (title: string): Chat => groupChat(-1_000_000_000_000 - ++nextChat, title);
  const freshUser = (name: string): User => tgUser(3000 + ++nextChat, name);

  /** Sends a message and returns the bot's answer to it (updates are handled one after another). */
  /** Sends a message and returns the bot's answer to it. */
  const ask = (chat: Chat, from: User, text: string, extra: Parameters<FakeTelegram['userSays']>[3] = {}): Promise<SentMessage> => fake.ask(chat, from, text, extra);

  /** Presses a button and returns the callback answer's text (undefined for a silent answer). */
  async function press(chat: Chat, from: User, data: string, messageId?: number): Promise<string | undefined> {
    const update = fake.callback(chat, from, data, messageId);
    const answer = await fake.waitForCall('answerCallbackQuery', (c) => c.payload['callback_query_id'] === update.callback_query!.id);
    const text = answer.payload['text'];
    return typeof text === 'string' ? text : undefined;
  }

  const idOf = (created: SentMessage): number => {
    const m = /^✅ Alert #(\d+):/.exec(created.text);
    if (!m) throw new Error(`not a created alert: ${created.text}`);
    return Number(m[1]);
  };
  const rule = (id: number) => db.prisma.alertRule.findUniqueOrThrow({ where: { id } });
  const chatRow = (chat: Chat) => db.prisma.chat.findUniqueOrThrow({ where: { platform_externalId: { platform: 'telegram', externalId: String(chat.id) } } });
  const memberChecks = (chat: Chat) => fake.callsOf('getChatMember').filter((c) => String(c.payload['chat_id']) === String(chat.id)).map((c) => Number(c.payload['user_id']));

  describe('admin rights in groups', () => {
    it('lets only admins create and delete alerts and watches; anyone may read', async () => {
      const group = freshGroup('Traders');
      fake.setRole(group.id, alice.id, 'administrator');
      fake.setRole(group.id, carol.id, 'creator');

      expect((await ask(group, bob, '/alert BTC/USDT > 110000')).text).toBe(ALERTS_REFUSED);
      expect((await ask(group, bob, '/set BTC/USDT > 110000')).text).toBe(ALERTS_REFUSED); // an alias is the same command
      expect((await ask(group, bob, '/alert nonsense')).text).toBe(ALERTS_REFUSED); // refused before the syntax is judged
      expect((await ask(group, bob, '/watch ETH')).text).toBe(WATCHLIST_REFUSED);
      expect(await db.prisma.alertRule.count({ where: { chat: { externalId: String(group.id) } } })).toBe(0);

      const created = await ask(group, alice, '/alert BTC/USDT > 110000');
      const id = idOf(created);
      expect(created.text).toMatch(/^✅ Alert #\d+: BTC\/USDT above 110,000 \(binance\)/);
      expect((await ask(group, alice, '/watch ETH 5%')).text).toMatch(/^👀 Watching ETH\/USDT on binance/);

      expect((await ask(group, bob, `/delete ${id}`)).text).toBe(ALERTS_REFUSED);
      expect((await ask(group, bob, '/rm all')).text).toBe(ALERTS_REFUSED);
      expect((await ask(group, bob, '/unwatch ETH')).text).toBe(WATCHLIST_REFUSED);
      expect((await rule(id)).state).toBe('active');

      expect((await ask(group, bob, '/alerts')).text).toContain(`#${id} BTC/USDT above 110,000`);
      expect((await ask(group, bob, '/watchlist')).text).toMatch(/^Watchlist \(1 of 50\)/);
      expect((await ask(group, bob, '/price BTC')).text).toMatch(/^BTC\/USDT on binance: 100,000\.00 USDT/);
      expect((await ask(group, bob, '/help')).text).toMatch(/^MaxFlash: live crypto prices and alerts\./);

      // the creator is an admin too
      expect((await ask(group, carol, `/delete ${id}`)).text).toBe(`Deleted alert #${id}: BTC/USDT above 110,000.`);
      expect((await ask(group, carol, '/unwatch ETH')).text).toBe('Stopped watching ETH/USDT on binance.');
      expect(service.engine.get(id)).toBeUndefined();

      // one getChatMember per (chat, user): bob's four refusals after the first came from the cache
      expect(memberChecks(group).sort()).toEqual([alice.id, bob.id, carol.id].sort());
    });

    it('never asks in private chats or channels', async () => {
      const dave = freshUser('Dave');
      const chat = privateChat(dave);
      expect((await ask(chat, dave, '/alert SOL/USDT > 500')).text).toMatch(/^✅ Alert #\d+: SOL\/USDT above 500/);
      const channel = channelChat(-1_009_000_000_000 - ++nextChat, 'Signals');
      const before = fake.sent().length;
      fake.channelPost(channel, '/alert SOL/USDT > 600');
      const posted = await fake.waitForSent((m) => m.chat_id === String(channel.id) && fake.sent().indexOf(m) >= before);
      expect(posted.text).toMatch(/^✅ Alert #\d+: SOL\/USDT above 600/);
      expect([...memberChecks(chat), ...memberChecks(channel)]).toEqual([]);
    });

    it('trusts an anonymous admin, who writes as the group, and not someone writing as a channel', async () => {
      const group = freshGroup('Anonymous admins');
      const anonymousBot = tgUser(1087968824, 'Group', 'GroupAnonymousBot');
      const channelBot = tgUser(136817688, 'Channel', 'Channel_Bot');
      const asGroup = { sender_chat: group } as Parameters<FakeTelegram['userSays']>[3];
      const asChannel = { sender_chat: channelChat(-1_009_000_000_000 - ++nextChat, 'Someone else') } as Parameters<FakeTelegram['userSays']>[3];
      expect((await ask(group, anonymousBot, '/alert BTC/USDT > 120000', asGroup)).text).toMatch(/^✅ Alert #\d+/);
      expect((await ask(group, channelBot, '/alert BTC/USDT > 120000', asChannel)).text).toBe(ALERTS_REFUSED);
      expect(memberChecks(group)).toEqual([]);
    });

    it('says so when Telegram cannot tell, and asks again next time', async () => {
      const group = freshGroup('Flaky');
      fake.setRole(group.id, alice.id, 'administrator');
      fake.failNext('getChatMember', 500);
      expect((await ask(group, alice, '/alert BTC/USDT > 125000')).text).toBe(
        "I couldn't check with Telegram whether you are an admin of this group. Try again in a minute.",
      );
      expect((await ask(group, alice, '/alert BTC/USDT > 125000')).text).toMatch(/^✅ Alert #\d+/);
      expect(memberChecks(group)).toEqual([alice.id, alice.id]);
    });
  });

  describe('the bot removed, blocked and back', () => {
    it("pauses a group's rules and watches when the bot is removed, and resumes them when it is added back", async () => {
      const group = freshGroup('Leavers');
      fake.setRole(group.id, alice.id, 'administrator');
      const id = idOf(await ask(group, alice, '/alert BTC/USDT > 140000'));
      await ask(group, alice, '/watch ETH');
      const watch = await db.prisma.watch.findFirstOrThrow({ where: { chat: { externalId: String(group.id) } } });
      expect(service.engine.get(id)).toBeDefined();
      expect(service.engine.get(watchRuleId(watch.id))).toBeDefined();

      fake.botMembership(group, alice, 'member', 'kicked');
      await expect.poll(() => service.engine.get(id)).toBeUndefined();
      expect(service.engine.get(watchRuleId(watch.id))).toBeUndefined();
      expect(await chatRow(group)).toMatchObject({ active: false });
      expect((await rule(id)).state).toBe('paused');

      fake.botMembership(group, alice, 'kicked', 'member');
      await expect.poll(() => service.engine.get(id)).toBeDefined();
      expect(service.engine.get(watchRuleId(watch.id))).toBeDefined();
      expect(await chatRow(group)).toMatchObject({ active: true });
      expect((await rule(id)).state).toBe('active');

      // muted is as good as gone; unmuted (here: promoted) is back
      fake.botMembership(group, alice, 'member', 'restricted');
      await expect.poll(async () => (await rule(id)).state).toBe('paused');
      fake.botMembership(group, alice, 'restricted', 'administrator');
      await expect.poll(async () => (await rule(id)).state).toBe('active');
      expect(logLines.filter((l) => l.includes('bot removed or blocked'))).not.toHaveLength(0);
    });

    it('pauses when a user blocks the bot, and any command after unblocking brings the alerts back', async () => {
      const erin = freshUser('Erin');
      const chat = privateChat(erin);
      const id = idOf(await ask(chat, erin, '/alert BTC/USDT > 150000'));
      fake.botMembership(chat, erin, 'member', 'kicked');
      await expect.poll(() => service.engine.get(id)).toBeUndefined();
      expect(await chatRow(chat)).toMatchObject({ active: false });

      // no my_chat_member this time (say it was lost): the next command is proof enough
      expect((await ask(chat, erin, '/price BTC')).text).toMatch(/^BTC\/USDT on binance/);
      expect(service.engine.get(id)).toBeDefined();
      expect(await chatRow(chat)).toMatchObject({ active: true });
      expect((await rule(id)).state).toBe('active');
      expect((await ask(chat, erin, '/alerts')).text).not.toContain('paused');
    });

    it('ignores membership changes of chats it never stored', async () => {
      const group = freshGroup('Strangers');
      fake.botMembership(group, alice, 'left', 'member');
      fake.botMembership(group, alice, 'member', 'left');
      const answer = await ask(group, alice, '/price ETH'); // handled after both
      expect(answer.text).toMatch(/^ETH\/USDT/);
      expect(await db.prisma.chat.count({ where: { externalId: String(group.id) } })).toBe(0);
    });
  });

  describe('buttons', () => {
    it('puts a ❌ under each rule of /alerts; a press deletes it and redraws the list', async () => {
      const frank = freshUser('Frank');
      const chat = privateChat(frank);
      const a = idOf(await ask(chat, frank, '/alert BTC/USDT > 160000'));
      const b = idOf(await ask(chat, frank, '/alert ETH/USDT < 2000'));
      const list = await ask(chat, frank, '/alerts');
      const row = (id: number, condition: string) => [{ text: `❌ #${id} ${condition}`, callback_data: `del:${id}:list` }];
      expect(list.reply_markup).toEqual({ inline_keyboard: [row(a, 'BTC/USDT above 160,000'), row(b, 'ETH/USDT below 2,000')] });

      expect(await press(chat, frank, `del:${a}:list`, list.message_id)).toBe(`Deleted alert #${a}: BTC/USDT above 160,000.`);
      const edit = await fake.waitForCall('editMessageText', (c) => Number(c.payload['message_id']) === list.message_id);
      expect(edit.payload['text']).toMatch(/^Alerts in this chat \(1 of 20\):/);
      expect(edit.payload['text']).not.toContain(`#${a}`);
      expect(edit.payload['reply_markup']).toEqual({ inline_keyboard: [row(b, 'ETH/USDT below 2,000')] });
      expect((await rule(a)).state).toBe('deleted');
      expect(service.engine.get(a)).toBeUndefined();

      // the same button again (a second tap, another device): the rule is gone and nothing is redrawn
      expect(await press(chat, frank, `del:${a}:list`, list.message_id)).toBe('This alert no longer exists.');
      const editsOfList = () => fake.callsOf('editMessageText').filter((c) => Number(c.payload['message_id']) === list.message_id);
      expect(editsOfList()).toHaveLength(1);

      // the last one: the keyboard goes with it
      await press(chat, frank, `del:${b}:list`, list.message_id);
      await expect.poll(() => editsOfList().length).toBe(2);
      expect(editsOfList()[1]!.payload).toMatchObject({ text: 'No active alerts in this chat. Set one with /alert BTC/USDT > 100000', reply_markup: { inline_keyboard: [] } });
    });

    it("refuses a non-admin's press in a group and answers presses it does not know", async () => {
      const group = freshGroup('Button pushers');
      fake.setRole(group.id, alice.id, 'administrator');
      const id = idOf(await ask(group, alice, '/alert BTC/USDT > 165000'));
      const list = await ask(group, bob, '/alerts');
      expect(await press(group, bob, `del:${id}:list`, list.message_id)).toBe(ALERTS_REFUSED);
      expect((await rule(id)).state).toBe('active');
      expect(await press(group, alice, `del:${id}:list`, list.message_id)).toBe(`Deleted alert #${id}: BTC/USDT above 165,000.`);
      expect(await press(group, bob, 'noop')).toBeUndefined();
      expect(await press(group, bob, 'snooze:1:999999999')).toBeUndefined(); // past any snooze this bot offers
    });

    it("re-arms and snoozes a fired one-shot alert from its message's buttons", async () => {
      const gina = freshUser('Gina');
      const chat = privateChat(gina);
      const id = idOf(await ask(chat, gina, '/alert BTC/USDT > 170000'));
      feed.emit('BTC/USDT', 171_000);
      await expect.poll(async () => (await rule(id)).state).toBe('fired');
      expect(service.engine.get(id)).toBeUndefined();

      // the dispatcher's part: the payload of the outbox row gives the buttons
      const row = await db.prisma.notification.findFirstOrThrow({ where: { ruleId: id } });
      expect(await bot.send(String(chat.id), row.text, { buttons: alertButtons(AlertPayload.parse(row.payload)) })).toEqual({ ok: true });
      const sent = fake.sent().at(-1)!;
      expect(sent.reply_markup).toEqual({
        inline_keyboard: [[{ text: '🔁 Re-arm', callback_data: `rearm:${id}` }, { text: '⏰ Snooze 1h', callback_data: `snooze:${id}:3600` }]],
      });

      expect(await press(chat, gina, `rearm:${id}`, sent.message_id)).toBe(`Alert #${id} is on again. Its condition holds already, so it fires with the next price.`);
      expect(service.engine.get(id)?.state).toMatchObject({ armed: true, fireCount: 1 });
      expect(await press(chat, gina, `rearm:${id}`, sent.message_id)).toBe(`Alert #${id} is on already.`);
      // it fires again, as a new firing: the outbox dedupes by firing count, which carried on
      feed.emit('BTC/USDT', 172_000);
      await expect.poll(() => db.prisma.notification.count({ where: { ruleId: id } })).toBe(2);
      const keys = (await db.prisma.notification.findMany({ where: { ruleId: id }, orderBy: { id: 'asc' } })).map((n) => n.dedupeKey);
      expect(keys).toEqual([`rule:${id}:fire:1`, `rule:${id}:fire:2`]);
      await expect.poll(async () => (await rule(id)).state).toBe('fired');

      // snooze on a fired alert: back in an hour; live in the database meanwhile, out of the engine
      expect(await press(chat, gina, `snooze:${id}:3600`, sent.message_id)).toMatch(new RegExp(`^Alert #${id} is snoozed until (\\d{4}-\\d{2}-\\d{2} )?\\d{2}:\\d{2} UTC\\.$`));
      expect((await rule(id)).state).toBe('active');
      expect(service.engine.get(id)).toBeUndefined();
      // re-arming a snoozed alert ends the snooze
      expect(await press(chat, gina, `rearm:${id}`, sent.message_id)).toBe(`Alert #${id} is on again.`);
      expect(service.engine.get(id)).toBeDefined();
      expect(fake.callsOf('editMessageText').filter((c) => Number(c.payload['message_id']) === sent.message_id)).toEqual([]);
    });

    it('brings a snoozed repeating rule back when the snooze ends; a restart keeps the rest of the snooze', async () => {
      const hana = freshUser('Hana');
      const chat = privateChat(hana);
      const ref: ChatRef = { platform: 'telegram', chatId: String(chat.id), kind: 'private' };
      const id = idOf(await ask(chat, hana, '/alert SOL/USDT > 300 every 1m'));
      expect(alertButtons({ ruleId: id, final: false })).toEqual([[{ label: '⏰ Snooze 1h', data: `snooze:${id}:3600` }, { label: '❌ Delete', data: `del:${id}` }]]);

      const snoozed = await service.snooze(ref, id, 0.3);
      expect(snoozed?.rule.id).toBe(id);
      expect(service.engine.get(id)).toBeUndefined();
      feed.emit('SOL/USDT', 310); // quiet: nothing holds the rule
      await expect.poll(() => service.engine.get(id), { timeout: 5_000 }).toBeDefined();
      feed.emit('SOL/USDT', 320);
      await expect.poll(() => db.prisma.notification.count({ where: { ruleId: id } })).toBe(1);

      // snoozed_until is on the row: a restart keeps the rule out for the rest of the hour (snooze-restart.test.ts has the timing)
      await service.snooze(ref, id, 3600);
      expect((await rule(id)).snoozedUntil).toBeInstanceOf(Date);
      const restarted = new AlertService({ hub: new MarketHub({ feeds: [feed], log, now: Date.now }), log, maxRulesPerChat: 20 });
      await restarted.start(db.prisma);
      expect(restarted.engine.get(id)).toBeUndefined();
      await restarted.stop();

      // its message's ❌: deleted with a toast, nothing edited
      expect(await press(chat, hana, `del:${id}`)).toBe(`Deleted alert #${id}: SOL/USDT above 300.`);
      expect(await press(chat, hana, `snooze:${id}:3600`)).toBe('This alert no longer exists.');
      expect(await press(chat, hana, `rearm:${id}`)).toBe('This alert no longer exists.');
      expect(await service.snooze({ ...ref, chatId: '42' }, id, 60)).toBeNull(); // another chat's rule is not there
    });
  });

  it('logs no errors', () => {
    expect(logLines.filter((l) => /"level":"(error|fatal)"/.test(l))).toEqual([]);
  });
});
