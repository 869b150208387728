import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { firingRuleDetails, recordFirings, type FiringBatch, type RuleOwner } from '../../src/alerts/record-firings.js';
import { readChatSettings, type ChatSettings } from '../../src/db/chats.js';
import type { Database } from '../../src/db/client.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import { createLogger } from '../../src/log.js';
import { clearChats, engines } from '../helpers/db.js';
import { RecordingFront } from '../helpers/recording-front.js';
import { until } from '../helpers/wait.js';

const log = createLogger('silent');
const T0 = new Date(Date.UTC(2026, 10, 25, 12, 0, 0));

// on a server through the driver itself, as the app writes firings there (Database.sql); embedded through the ORM
describe.each(engines)('recording firings in one statement on $name', ({ open }) => {
  let db: Database;
  let chatId: number;
  let ruleId: number;

  async function rule(chat = chatId, note?: string): Promise<number> {
    const r = await db.prisma.alertRule.create({ data: { chatId: chat, exchange: 'binance', pair: 'BTC/USDT', kind: 'level', op: '>', threshold: '101000.5', source: '/alert', ...(note ? { note } : {}) } });
    return r.id;
  }

  /** what the beforeEach chat and rule say: a firing worded by this is written */
  function worded(over: Partial<RuleOwner & ChatSettings> = {}): RuleOwner & ChatSettings {
    return { chatId, note: 'take profit', timezone: 'Europe/Berlin', chatKind: 'private', language: null, userLanguage: null, webhookActive: false, ...over };
  }

  function batch(over: Partial<FiringBatch> = {}, id = ruleId, key = `rule:${id}:fire:1`, wordedBy = worded(id === ruleId ? {} : { note: null })): FiringBatch {
    return {
      rules: [{ ruleId: id, state: { armed: false, fireCount: 1, lastFiredAt: T0.getTime(), side: 'above', referencePrice: 0.000000123 }, final: true, price: 101_234.5, wordedBy }],
      watches: [],
      messages: [{ chatId, ruleId: id, dedupeKey: key, text: `alert #${id}`, payload: { kind: 'notice' } }],
      now: T0,
      claim: false,
      ...over,
    };
  }

  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await clearChats(db);
    chatId = (await db.prisma.chat.create({ data: { platform: 'telegram', externalId: '42', kind: 'private', timezone: 'Europe/Berlin' } })).id;
    ruleId = await rule(chatId, 'take profit');
  });

  it('writes the rule state and its message together, and a retried batch enqueues nothing twice', async () => {
    expect(await recordFirings(db.sql ?? db.prisma, batch())).toEqual({ enqueued: 1, claimed: [], stale: [] });
    const row = await db.prisma.alertRule.findUniqueOrThrow({ where: { id: ruleId } });
    expect(row).toMatchObject({ state: 'fired', armed: false, fireCount: 1, side: 'above', lastFiredAt: T0 });
    expect(row.referencePrice?.toString()).toBe('1.23e-7');
    expect(row.lastPrice?.toString()).toBe('101234.5');
    const [n] = await db.prisma.notification.findMany();
    expect(n).toMatchObject({ chatId, ruleId, dedupeKey: `rule:${ruleId}:fire:1`, status: 'pending', attempts: 0, target: 'chat', nextAttemptAt: T0, createdAt: T0 });
    // the same firing again (a retry after a lost answer): the rule is no longer active, nothing new
    expect(await recordFirings(db.sql ?? db.prisma, batch())).toEqual({ enqueued: 0, claimed: [], stale: [] });
    expect(await db.prisma.notification.count()).toBe(1);
  });

  it('gives a rule deleted while its firing waited no message', async () => {
    await db.prisma.alertRule.update({ where: { id: ruleId }, data: { state: 'deleted' } });
    expect((await recordFirings(db.sql ?? db.prisma, batch())).enqueued).toBe(0);
    expect(await db.prisma.notification.count()).toBe(0);
    expect((await db.prisma.alertRule.findUniqueOrThrow({ where: { id: ruleId } })).fireCount).toBe(0);
  });

  it('is all or nothing: one bad value leaves every rule and the outbox as they were', async () => {
    const other = await rule();
    const good = batch().rules[0]!;
    const bad = { ...good, ruleId: other, state: { ...good.state, side: 'sideways' as 'above' }, wordedBy: worded({ note: null }) };
    await expect(
      recordFirings(db.sql ?? db.prisma, { ...batch(), rules: [good, bad], messages: [...batch().messages, ...batch({}, other).messages] }),
    ).rejects.toThrow();
    expect(await db.prisma.notification.count()).toBe(0);
    expect((await db.prisma.alertRule.findMany({ where: { state: 'active' } })).map((r) => r.id).sort()).toEqual([ruleId, other].sort());
  });

  it('claims the messages of idle chats for this process, and leaves a chat with rows waiting to the claims', async () => {
    const busy = (await db.prisma.chat.create({ data: { platform: 'telegram', externalId: '43' } })).id;
    await db.prisma.notification.create({ data: { chatId: busy, dedupeKey: 'older', text: 'older', nextAttemptAt: new Date(T0.getTime() + 5_000) } });
    const busyRule = await rule(busy);
    const both: FiringBatch = {
      ...batch({ claim: true }),
      rules: [...batch().rules, { ...batch().rules[0]!, ruleId: busyRule, wordedBy: worded({ chatId: busy, note: null, timezone: null }) }],
      messages: [...batch().messages, { chatId: busy, ruleId: busyRule, dedupeKey: `rule:${busyRule}:fire:1`, text: 'newer', payload: { kind: 'notice' } }],
    };
    const { enqueued, claimed } = await recordFirings(db.sql ?? db.prisma, both);
    expect(enqueued).toBe(2);
    expect(claimed).toEqual([
      expect.objectContaining({ chatId, platform: 'telegram', kind: 'private', externalId: '42', text: `alert #${ruleId}`, attempts: 1, target: 'chat' }),
    ]);
    const rows = await db.prisma.notification.findMany({ orderBy: { id: 'asc' } });
    expect(rows.map((r) => [r.text, r.status, r.attempts])).toEqual([['older', 'pending', 0], [`alert #${ruleId}`, 'sending', 1], ['newer', 'pending', 0]]);
  });

  it('writes nothing of a firing worded by settings that changed meanwhile, and hands it back as stale', async () => {
    const webhookOn = async () => db.prisma.webhook.create({ data: { chatId, url: 'https://example.com/hook', secret: 's' } });
    const elsewhere = (await db.prisma.chat.create({ data: { platform: 'telegram', externalId: '44' } })).id;
    const changes: Array<[string, Partial<RuleOwner & ChatSettings>, () => Promise<unknown>]> = [
      ['language', {}, () => db.prisma.chat.update({ where: { id: chatId }, data: { language: 'ru' } })],
      ['client language', { language: 'ru' }, () => db.prisma.chat.update({ where: { id: chatId }, data: { userLanguage: 'ru' } })],
      ['timezone', { language: 'ru', userLanguage: 'ru' }, () => db.prisma.chat.update({ where: { id: chatId }, data: { timezone: null } })],
      ['webhook on', { language: 'ru', userLanguage: 'ru', timezone: null }, webhookOn],
      ['webhook off', { language: 'ru', userLanguage: 'ru', timezone: null, webhookActive: true }, () => db.prisma.webhook.updateMany({ data: { active: false } })],
      ['kind', { language: 'ru', userLanguage: 'ru', timezone: null }, () => db.prisma.chat.update({ where: { id: chatId }, data: { kind: 'group' } })],
      ['chat (a merge moved the rule)', { language: 'ru', userLanguage: 'ru', timezone: null, chatKind: 'group' }, () => db.prisma.alertRule.update({ where: { id: ruleId }, data: { chatId: elsewhere } })],
    ];
    for (const [what, before, change] of changes) {
      await change();
      expect(await recordFirings(db.sql ?? db.prisma, batch({}, ruleId, `rule:${ruleId}:fire:1`, worded(before))), what).toEqual({ enqueued: 0, claimed: [], stale: [ruleId] });
    }
    expect(await db.prisma.notification.count()).toBe(0);
    expect(await db.prisma.alertRule.findUniqueOrThrow({ where: { id: ruleId } })).toMatchObject({ state: 'active', fireCount: 0 });
    // worded by what the rows say now, it is written
    const now = { ...(await readChatSettings(db.prisma, [elsewhere])).get(elsewhere)!, chatId: elsewhere, note: 'take profit' };
    expect(now).toEqual({ chatId: elsewhere, note: 'take profit', timezone: null, chatKind: 'private', language: null, userLanguage: null, webhookActive: false });
    expect(await recordFirings(db.sql ?? db.prisma, batch({}, ruleId, `rule:${ruleId}:fire:1`, now))).toMatchObject({ enqueued: 1, stale: [] });
  });

  it('moves a watch with its message, and drops the message of a watch removed meanwhile', async () => {
    const watch = await db.prisma.watch.create({ data: { chatId, exchange: 'binance', pair: 'ETH/USDT', referencePrice: 3000 } });
    const msg = (id: number, key: string) => ({ chatId, watchId: id, dedupeKey: key, text: key, payload: { kind: 'notice' as const } });
    const res = await recordFirings(db.sql ?? db.prisma, { rules: [], watches: [{ watchId: watch.id, price: 3100.25, at: T0.getTime() }, { watchId: watch.id + 1000, price: 1, at: T0.getTime() }], messages: [msg(watch.id, 'w1'), msg(watch.id + 1000, 'gone')], now: T0, claim: false });
    expect(res.enqueued).toBe(1);
    const moved = await db.prisma.watch.findUniqueOrThrow({ where: { id: watch.id } });
    expect(moved.referencePrice?.toString()).toBe('3100.25');
    expect(moved.lastNotifiedAt).toEqual(T0);
    expect((await db.prisma.notification.findMany()).map((n) => n.text)).toEqual(['w1']);
  });

  it('reads what a firing message needs of its rule and chat in one query: chat, note, timezone, language, webhook', async () => {
    await db.prisma.webhook.create({ data: { chatId, url: 'https://example.com/hook', secret: 's' } });
    await db.prisma.chat.update({ where: { id: chatId }, data: { userLanguage: 'ru' } });
    const [d] = await firingRuleDetails(db.prisma, [ruleId]);
    expect(d).toEqual({
      id: ruleId, chatId, note: 'take profit', timezone: 'Europe/Berlin', chatKind: 'private', language: null, userLanguage: 'ru', webhookActive: true,
    });
    await db.prisma.alertRule.update({ where: { id: ruleId }, data: { state: 'deleted' } });
    expect(await firingRuleDetails(db.prisma, [ruleId])).toEqual([]);
  });

  it('hands claimed rows to the dispatcher, which sends them without a claim and marks them sent', async () => {
    const front = new RecordingFront('telegram');
    const dispatcher = new Dispatcher({ prisma: db.prisma, fronts: new Map([['telegram', front]]), log, idleMs: 60_000 });
    await dispatcher.start();
    try {
      expect(dispatcher.accepts(1)).toBe(true);
      const { claimed } = await recordFirings(db.sql ?? db.prisma, batch({ claim: true, now: new Date() }));
      dispatcher.take(claimed);
      await front.waitForSent(1);
      expect(front.sent.map((s) => [s.chatId, s.text])).toEqual([['42', `alert #${ruleId}`]]);
      await until('the row marked sent', async () => (await db.prisma.notification.count({ where: { status: 'sent', attempts: 1 } })) === 1, 5_000);
    } finally {
      await dispatcher.stop();
    }
    // once stopped, the dispatcher takes nothing, and rows handed to it anyway go back to pending
    expect(dispatcher.accepts(1)).toBe(false);
    const second = await rule();
    const { claimed } = await recordFirings(db.sql ?? db.prisma, batch({ claim: true }, second));
    dispatcher.take(claimed);
    await until('the handed row put back', async () => (await db.prisma.notification.findFirst({ where: { ruleId: second } }))?.status === 'pending', 5_000);
    expect((await db.prisma.notification.findFirstOrThrow({ where: { ruleId: second } })).attempts).toBe(0);
  });
});
