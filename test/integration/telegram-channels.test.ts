import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { AlertService } from '../../src/alerts/service.js';
import { watchRuleId } from '../../src/alerts/watches.js';
import { TelegramFront } from '../../src/chat/telegram.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import { createLogger } from '../../src/log.js';
import { engines } from '../helpers/db.js';
import { startTelegramStack, type TelegramStack } from '../helpers/telegram-stack.js';
import { MemoryFeed } from '../helpers/memory-feed.js';
import { recordUnhandledRejections } from '../helpers/unhandled.js';
import { channelChat, groupChat, privateChat, tgUser, type Chat, type FakeTelegram, type SentMessage, type User } from '../fakes/telegram.js';

/**
 * Channel broadcasts through the real grammY against the fake Bot API, on a real database with the
 * dispatcher running: /channel add checks with Telegram that the user and the bot are the channel's
 * admins, "to @name" puts rules and watches on the channel, and their messages go to the channel's id.
 */

const unhandled = recordUnhandledRejections();
const logLines: string[] = [];
const log = createLogger('debug', { write: (line: string) => void logLines.push(line) });
const LISTED = new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);

describe.each(engines)('Telegram channels on $name', (engine) => {
  let stack: TelegramStack;
  let db: Database;
  let feed: MemoryFeed;
  let service: AlertService;
  let dispatcher: Dispatcher;
  let fake: FakeTelegram;
  let bot: TelegramFront;
  let next = 0;
  /** moved forward to age the front's admin cache; Telegram and the database run on real time */
  let skew = 0;

  beforeAll(async () => {
    stack = await startTelegramStack(engine, { log, prices: new Map([['BTC/USDT', 100_000], ['ETH/USDT', 3_000], ['SOL/USDT', 150]]), delivery: true, frontNow: () => Date.now() + skew });
    ({ db, service, fake, bot } = stack);
    feed = stack.feeds[0]!;
    dispatcher = stack.dispatcher!;
  });

  afterAll(() => stack?.close());

  const freshUser = (name: string): User => tgUser(5000 + ++next, name);
  /** a public channel of its own per test; the bot is an admin that may post unless told otherwise */
  function freshChannel(owner: User, opts: { bot?: 'admin' | 'no_post' | 'none'; ownerStatus?: 'creator' | 'administrator' | 'member' } = {}): Chat {
    const id = -1_002_000_000_000 - ++next;
    const channel = fake.addPublicChat(channelChat(id, `Signals ${next}`, `signals_${next}`));
    if (opts.bot !== 'none') fake.setRole(id, fake.botId, 'administrator', opts.bot === 'no_post' ? { can_post_messages: false } : undefined);
    fake.setRole(id, owner.id, opts.ownerStatus ?? 'creator');
    return channel;
  }
  const handle = (channel: Chat): string => `@${(channel as { username: string }).username}`;

  const ask = (chat: Chat, from: User, text: string): Promise<SentMessage> => fake.ask(chat, from, text);
  const idOf = (created: SentMessage): number => {
    const m = /^✅ Alert #(\d+):/.exec(created.text);
    if (!m) throw new Error(`not a created alert: ${created.text}`);
    return Number(m[1]);
  };
  const links = (channel: Chat) => db.prisma.channelLink.count({ where: { channel: { externalId: String(channel.id) } } });
  const sentTo = (channel: Chat) => fake.sent().filter((m) => m.chat_id === String(channel.id));

  describe('/channel add', () => {
    it('links a channel whose admins include the user and the bot, once', async () => {
      const ann = freshUser('Ann');
      const channel = freshChannel(ann);
      const h = handle(channel);
      expect((await ask(privateChat(ann), ann, `/channel add ${h}`)).text).toBe(
        `✅ ${h} is linked. You and I are its admins, so I can post there for you.\n` +
          `Post alerts there with /alert SOL/USDT > 200 to ${h}, or /watch BTC/USDT to ${h}. /alerts to ${h} lists them.`,
      );
      const row = await db.prisma.chat.findUniqueOrThrow({ where: { platform_externalId: { platform: 'telegram', externalId: String(channel.id) } } });
      expect(row).toMatchObject({ kind: 'channel', title: h, active: true });
      const link = await db.prisma.channelLink.findFirstOrThrow({ where: { channelChatId: row.id }, include: { owner: true } });
      expect(link).toMatchObject({ linkedBy: String(ann.id), owner: { externalId: String(ann.id), kind: 'private' } });
      // the name is found in any case, and typed without the @ too
      expect((await ask(privateChat(ann), ann, `/channel add ${h.slice(1).toUpperCase()}`)).text).toMatch(new RegExp(`^${h} was linked already; you and I are still its admins\\.`));
      expect(await links(channel)).toBe(1);
      expect(fake.callsOf('getChat').map((c) => c.payload['chat_id'])).toContain(h);
    });

    it('refuses a user who is not an admin of the channel', async () => {
      const ben = freshUser('Ben');
      const channel = freshChannel(ben, { ownerStatus: 'member' });
      expect((await ask(privateChat(ben), ben, `/channel add ${handle(channel)}`)).text).toBe(`You are not an admin of ${handle(channel)}, so you can't post alerts there.`);
      expect(await links(channel)).toBe(0);
    });

    it('says how to fix it when the bot is not an admin, or may not post', async () => {
      const cat = freshUser('Cat');
      const without = freshChannel(cat, { bot: 'none' });
      expect((await ask(privateChat(cat), cat, `/channel add ${handle(without)}`)).text).toBe(
        `I'm not an admin of ${handle(without)}. In the channel's settings, add me under Administrators with "Post messages" allowed, then try again.`,
      );
      const mute = freshChannel(cat, { bot: 'no_post' });
      expect((await ask(privateChat(cat), cat, `/channel add ${handle(mute)}`)).text).toBe(
        `I'm an admin of ${handle(mute)} but may not post there. Allow "Post messages" for me in the channel's administrator settings, then try again.`,
      );
      // fixed in Telegram: the next try is asked afresh and succeeds (refusals are never cached)
      fake.setRole(mute.id, fake.botId, 'administrator');
      expect((await ask(privateChat(cat), cat, `/channel add ${handle(mute)}`)).text).toMatch(/^✅ /);
      expect([await links(without), await links(mute)]).toEqual([0, 1]);
    });

    it('tells a group from a channel, and an unknown name from both', async () => {
      const dan = freshUser('Dan');
      const group = fake.addPublicChat({ ...groupChat(-1_003_000_000_000 - ++next, 'Chatter'), username: `chatter_${next}` } as Chat);
      fake.setRole(group.id, dan.id, 'creator');
      expect((await ask(privateChat(dan), dan, `/channel add @chatter_${next}`)).text).toBe(`@chatter_${next} is not a channel. For a group, add me to it and send /alert there.`);
      expect((await ask(privateChat(dan), dan, '/channel add @no_such_channel')).text).toBe("I can't find @no_such_channel. Check the spelling: it is the channel's public @username.");
      expect((await ask(privateChat(dan), dan, '/channel add')).text).toBe('Name the channel by its @username, one at a time.\nExample: /channel add @yourchannel');
      expect((await ask(privateChat(dan), dan, '/channel join @x')).text).toBe('/channel takes add, remove or list, not "join".\nExample: /channel add @yourchannel');
    });

    it('answers in a group with a hint to use the private chat', async () => {
      const eve = freshUser('Eve');
      const group = groupChat(-1_004_000_000_000 - ++next, 'Traders');
      fake.setRole(group.id, eve.id, 'administrator');
      const hint = 'Channels are linked and posted to from a private chat with me: open one and send /channel add @yourchannel.';
      expect((await ask(group, eve, '/channel add @signals')).text).toBe(hint);
      expect((await ask(group, eve, '/alert SOL/USDT > 200 to @signals')).text).toBe(hint);
    });
  });

  describe('posting to a linked channel', () => {
    it('puts an alert on the channel; it fires there; /alerts, /channel list and /delete work from the private chat', async () => {
      const fay = freshUser('Fay');
      const chat = privateChat(fay);
      const channel = freshChannel(fay);
      const h = handle(channel);
      await ask(chat, fay, `/channel add ${h}`);

      const created = await ask(chat, fay, `/alert SOL/USDT > 200 every 1m to ${h} -- posted to @someone_else`);
      expect(created.text).toMatch(new RegExp(`^✅ Alert #\\d+: SOL/USDT above 200 \\(binance\\)\\n[^]*\\nPosts to ${h}\\.$`));
      const id = idOf(created);
      const rule = await db.prisma.alertRule.findUniqueOrThrow({ where: { id }, include: { chat: true } });
      expect(rule).toMatchObject({ creatorId: String(fay.id), note: 'posted to @someone_else', chat: { externalId: String(channel.id), kind: 'channel' } });
      expect((await ask(chat, fay, '/alerts')).text).toBe('No active alerts in this chat. Set one with /alert BTC/USDT > 100000');
      const list = await ask(chat, fay, `/alerts to ${h}`);
      expect(list.text).toMatch(new RegExp(`^Alerts posted to ${h} \\(1 of 20\\):\\n#${id} SOL/USDT above 200 · on binance · every 1m — posted to @someone_else`));
      expect(list.reply_markup).toBeUndefined(); // its ❌ would act on the private chat

      feed.emit('SOL/USDT', 210);
      const posted = await fake.waitForSent((m) => m.chat_id === String(channel.id));
      expect(posted.text).toMatch(new RegExp(`^🔔 SOL/USDT above 200\\nSOL/USDT is 210 USDT on binance\\n.* · alert #${id} \\(repeating\\)\\nNote: posted to @someone_else$`));
      expect(fake.sent().filter((m) => m.chat_id === String(chat.id) && m.text.startsWith('🔔'))).toEqual([]);

      expect((await ask(chat, fay, `/watch BTC/USDT 5% to ${h}`)).text).toMatch(new RegExp(`^👀 Watching BTC/USDT on binance for ${h}: a message there each time it moves 5% either way\\.`));
      expect((await ask(chat, fay, '/channel list')).text).toBe(
        `Linked channels:\n${h}: 1 alert, 1 watch\n\nPost to one with /alert … to @channel or /watch … to @channel; /channel remove @channel unlinks it.`,
      );

      expect((await ask(chat, fay, `/delete ${id}`)).text).toBe(`Deleted alert #${id} of ${h}: SOL/USDT above 200.`);
      expect((await db.prisma.alertRule.findUniqueOrThrow({ where: { id } })).state).toBe('deleted');
      expect(service.engine.get(id)).toBeUndefined();
      expect((await ask(chat, fay, `/delete ${id}`)).text).toBe(`This chat has no alert #${id}. /alerts lists yours.\nExample: /alerts`);
    });

    it('sends a watch to the channel, and /unwatch … to @name stops it', async () => {
      const gus = freshUser('Gus');
      const chat = privateChat(gus);
      const channel = freshChannel(gus);
      const h = handle(channel);
      await ask(chat, gus, `/channel add ${h}`);
      feed.emit('ETH/USDT', 3_000);
      await ask(chat, gus, `/watch ETH to ${h}`);
      const watch = await db.prisma.watch.findFirstOrThrow({ where: { chat: { externalId: String(channel.id) } } });
      expect(service.engine.get(watchRuleId(watch.id))).toBeDefined();
      expect((await ask(chat, gus, `/watchlist to ${h}`)).text).toMatch(new RegExp(`^Watchlist of ${h} \\(1 of 50\\)`));
      expect((await ask(chat, gus, '/watchlist')).text).toMatch(/^Nothing on this chat's watchlist yet/);

      feed.emit('ETH/USDT', 3_120); // +4%, past the default 3%
      const posted = await fake.waitForSent((m) => m.chat_id === String(channel.id));
      expect(posted.text).toMatch(/^📈 ETH\/USDT \+4\.00% to 3,120\.00 USDT on binance \(from 3,000\.00 since/);

      expect((await ask(chat, gus, `/unwatch ETH to ${h}`)).text).toBe(`Stopped watching ETH/USDT on binance for ${h}.`);
      expect(service.engine.get(watchRuleId(watch.id))).toBeUndefined();
      expect((await ask(chat, gus, `/unwatch ETH to ${h}`)).text).toBe(`ETH/USDT isn't on ${h}'s watchlist. /watchlist to ${h} shows what is.\nExample: /watchlist to ${h}`);
      await ask(chat, gus, `/alert BTC/USDT > 200000 to ${h}`);
      await ask(chat, gus, `/alert ETH/USDT > 9000 to ${h}`);
      expect((await ask(chat, gus, `/delete all to ${h}`)).text).toBe(`Deleted all 2 alerts of ${h}.`);
      expect((await ask(chat, gus, `/delete all to ${h}`)).text).toBe(`${h} had no alerts to delete.`);
    });

    it('points an unknown or unlinked @name to /channel add', async () => {
      const hal = freshUser('Hal');
      const channel = freshChannel(hal); // Hal is its admin, but has not linked it
      expect((await ask(privateChat(hal), hal, `/alert SOL/USDT > 200 to ${handle(channel)}`)).text).toBe(
        `${handle(channel)} isn't linked to this chat. Link it first with /channel add ${handle(channel)}.\nExample: /channel add ${handle(channel)}`,
      );
      expect((await ask(privateChat(hal), hal, '/watch BTC to @nobody_here')).text).toBe(
        "@nobody_here isn't linked to this chat. Link it first with /channel add @nobody_here.\nExample: /channel add @nobody_here",
      );
      expect(await db.prisma.alertRule.count({ where: { creatorId: String(hal.id) } })).toBe(0);
    });

    it('refuses a demoted admin once the cached answer is a minute old', async () => {
      const ivy = freshUser('Ivy');
      const chat = privateChat(ivy);
      const channel = freshChannel(ivy, { ownerStatus: 'administrator' });
      const h = handle(channel);
      await ask(chat, ivy, `/channel add ${h}`);
      const userChecks = () => fake.callsOf('getChatMember').filter((c) => String(c.payload['chat_id']) === String(channel.id) && Number(c.payload['user_id']) === ivy.id).length;
      expect(userChecks()).toBe(1); // /channel add asked
      const id = idOf(await ask(chat, ivy, `/alert BTC/USDT > 150000 to ${h}`));
      await ask(chat, ivy, `/alerts to ${h}`);
      expect(userChecks()).toBe(1); // within the minute, "to @name" reuses that answer

      fake.setRole(channel.id, ivy.id, 'member');
      skew += 61_000;
      const refused = `You are not an admin of ${h}, so you can't post alerts there.`;
      expect((await ask(chat, ivy, `/alert BTC/USDT > 160000 to ${h}`)).text).toBe(refused);
      expect((await ask(chat, ivy, `/alerts to ${h}`)).text).toBe(refused);
      expect((await ask(chat, ivy, `/delete ${id}`)).text).toBe(refused);
      expect((await db.prisma.alertRule.findUniqueOrThrow({ where: { id } })).state).toBe('active');
      expect(userChecks()).toBe(4); // a refusal is not cached: each try asks again

      // the bot losing its post right is caught the same way
      fake.setRole(channel.id, ivy.id, 'administrator');
      fake.setRole(channel.id, fake.botId, 'administrator', { can_post_messages: false });
      expect((await ask(chat, ivy, `/watch BTC to ${h}`)).text).toMatch(/^I'm an admin of .* but may not post there\./);
    });

    it("lets only the channel's admins press the buttons under its alerts", async () => {
      const jay = freshUser('Jay');
      const reader = freshUser('Reader');
      const channel = freshChannel(jay);
      await ask(privateChat(jay), jay, `/channel add ${handle(channel)}`);
      const id = idOf(await ask(privateChat(jay), jay, `/alert ETH/USDT > 2000 to ${handle(channel)}`));
      const press = async (from: User, data: string) => {
        const update = fake.callback(channel, from, data);
        const answer = await fake.waitForCall('answerCallbackQuery', (c) => c.payload['callback_query_id'] === update.callback_query!.id);
        return answer.payload['text'];
      };
      expect(await press(reader, `del:${id}`)).toBe("Only this channel's admins can change its alerts.");
      expect((await db.prisma.alertRule.findUniqueOrThrow({ where: { id } })).state).toBe('active');
      expect(await press(jay, `del:${id}`)).toBe(`Deleted alert #${id}: ETH/USDT above 2,000.`);
    });
  });

  describe('/channel remove', () => {
    it('keeps the rules while another chat links the channel, and deletes them with the last link', async () => {
      const kim = freshUser('Kim');
      const lou = freshUser('Lou');
      const channel = freshChannel(kim);
      const h = handle(channel);
      fake.setRole(channel.id, lou.id, 'administrator');
      await ask(privateChat(kim), kim, `/channel add ${h}`);
      await ask(privateChat(lou), lou, `/channel add ${h}`);
      const id = idOf(await ask(privateChat(kim), kim, `/alert SOL/USDT < 100 to ${h}`));
      await ask(privateChat(lou), lou, `/watch SOL to ${h}`);
      // either admin manages the channel's rules
      expect((await ask(privateChat(lou), lou, `/alerts to ${h}`)).text).toContain(`#${id} SOL/USDT below 100`);

      expect((await ask(privateChat(kim), kim, `/channel remove ${h}`)).text).toBe(`Unlinked ${h}. Its alerts and watches stay: another chat still has it linked.`);
      expect((await ask(privateChat(kim), kim, `/alerts to ${h}`)).text).toBe(`${h} isn't linked to this chat. Link it first with /channel add ${h}.\nExample: /channel add ${h}`);
      expect(service.engine.get(id)).toBeDefined();

      expect((await ask(privateChat(lou), lou, `/channel remove ${h}`)).text).toBe(`Unlinked ${h}. No chat links it any more, so its 1 alert and 1 watch were deleted.`);
      expect((await db.prisma.alertRule.findUniqueOrThrow({ where: { id } })).state).toBe('deleted');
      expect(await db.prisma.watch.count({ where: { chat: { externalId: String(channel.id) } } })).toBe(0);
      expect(service.engine.get(id)).toBeUndefined();
      expect(await links(channel)).toBe(0);
      expect((await ask(privateChat(lou), lou, `/channel remove ${h}`)).text).toBe(`${h} isn't linked to this chat. /channel list shows the ones that are.\nExample: /channel list`);
      expect((await ask(privateChat(lou), lou, '/channel')).text).toBe('No channels linked. Make me an admin of your channel (with "Post messages"), then send /channel add @yourchannel.');
      expect(sentTo(channel).filter((m) => m.text.startsWith('🔔'))).toEqual([]);
    });
  });

  it('logs no errors and leaves no unhandled rejections', () => {
    expect(logLines.filter((l) => /"level":"(error|fatal)"/.test(l))).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});
