import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { AlertService } from '../../src/alerts/service.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import type { ChatRef } from '../../src/chat/commands/types.js';
import { MarketHub } from '../../src/market/hub.js';
import { createLogger } from '../../src/log.js';
import { clearChats, engines } from '../helpers/db.js';
import { MemoryFeed } from '../helpers/memory-feed.js';
import { RecordingFront } from '../helpers/recording-front.js';
import { upsertChat } from '../../src/db/chats.js';

const log = createLogger('silent');
const LISTED = new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);


const chat: ChatRef = { platform: 'console', chatId: 'local', kind: 'private', userId: 'u1' };

describe.each(engines)('alerts end to end on $name', ({ open }) => {
  let db: Database;
  let feed: MemoryFeed;
  let hub: MarketHub;
  let front: RecordingFront;
  let service: AlertService;
  let dispatcher: Dispatcher;
  let clock: number;

  /** `servicePrisma`: what the alert service talks to (the dispatcher always gets the real client); `handoff`: as the app wires it */
  async function boot(opts: { servicePrisma?: Database['prisma']; handoff?: boolean } = {}): Promise<void> {
    feed = new MemoryFeed('binance', LISTED, new Map([['BTC/USDT', 100_000], ['ETH/USDT', 3_000]]), () => clock);
    hub = new MarketHub({ feeds: [feed], log, now: () => clock });
    front = new RecordingFront();
    const handoff = opts.handoff ? { handoff: { accepts: (n: number) => dispatcher.accepts(n), take: (rows: Parameters<Dispatcher['take']>[0]) => dispatcher.take(rows) } } : {};
    service = new AlertService({ hub, log, maxRulesPerChat: 3, now: () => clock, onEnqueued: () => dispatcher.wake(), ...handoff });
    dispatcher = new Dispatcher({ prisma: db.prisma, fronts: new Map([['console', front]]), log, now: () => clock, idleMs: 50, onChatUnreachable: (id) => void service.pauseChat(id) });
    await service.start(opts.servicePrisma ?? db.prisma);
    await dispatcher.start();
  }
  async function shutdown(): Promise<void> {
    await dispatcher.stop();
    await service.stop();
  }
  const tick = (pair: string, last: number) => {
    clock += 1_000;
    feed.emit(pair, last);
  };
  const spec = (text: Partial<Parameters<AlertService['create']>[1]>) =>
    ({ pair: 'BTC/USDT', exchange: 'binance', repeat: { kind: 'once' }, condition: { kind: 'level', op: '>', price: '101000' }, ...text }) as Parameters<AlertService['create']>[1];

  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    clock = Date.UTC(2026, 10, 25, 12, 0, 0);
    await clearChats(db);
    await boot();
    return shutdown;
  });

  it('fires a level rule once: rule state and outbox row commit together, the message is sent once', async () => {
    const created = await service.create(chat, spec({}), '/alert BTC/USDT > 101000');
    expect(created.holdsNow).toBe(false);
    expect(feed.added).toEqual(['BTC/USDT']);
    tick('BTC/USDT', 100_500);
    tick('BTC/USDT', 101_000.5);
    tick('BTC/USDT', 102_000);
    await front.waitForSent(1);
    await expect.poll(async () => (await db.prisma.notification.findFirst())?.status, { timeout: 5_000 }).toBe('sent');
    expect(front.sent[0]!.text).toContain('BTC/USDT above 101,000');
    expect(front.sent[0]!.text).toContain('101,000.50 USDT on binance');
    const rule = await db.prisma.alertRule.findUniqueOrThrow({ where: { id: created.rule.id } });
    expect(rule).toMatchObject({ state: 'fired', fireCount: 1, armed: false });
    expect(rule.lastPrice?.toString()).toBe('101000.5');
    const rows = await db.prisma.notification.findMany();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'sent', dedupeKey: `rule:${created.rule.id}:fire:1`, attempts: 1 });
    expect(feed.removed).toEqual(['BTC/USDT']); // a fired one-shot rule no longer holds its pair
  });

  it("shows the chat's timezone beside UTC in the alert message once it is set", async () => {
    await service.setTimezone(chat, 'Asia/Tokyo');
    expect(await service.timezone(chat)).toBe('Asia/Tokyo');
    await service.create(chat, spec({}), 'x');
    tick('BTC/USDT', 101_500);
    await front.waitForSent(1);
    expect(front.sent[0]!.text).toMatch(/ UTC \(2026-11-25 21:00 Asia\/Tokyo\) · alert #\d+$/m);
  });

  it('words an alert by what the rows say when the firing is written, even when they changed behind the service', async () => {
    const created = await service.create(chat, spec({ note: 'take profit' }), 'x');
    // as another process or an operator would: nothing in this process hears of it
    const row = await db.prisma.chat.findFirstOrThrow({ where: { externalId: 'local' } });
    await db.prisma.chat.update({ where: { id: row.id }, data: { language: 'ru', timezone: 'Asia/Tokyo' } });
    await db.prisma.webhook.create({ data: { chatId: row.id, url: 'https://example.com/hook', secret: 's' } });
    tick('BTC/USDT', 101_500);
    await front.waitForSent(1);
    expect(front.sent[0]!.text).toMatch(/^🔔 BTC\/USDT выше 101.000/);
    expect(front.sent[0]!.text).toContain('Asia/Tokyo');
    const rows = await db.prisma.notification.findMany({ orderBy: { id: 'asc' } });
    expect(rows.map((r) => [r.target, r.dedupeKey])).toEqual([['chat', `rule:${created.rule.id}:fire:1`], ['webhook', `rule:${created.rule.id}:fire:1:webhook`]]);
    expect(await db.prisma.alertRule.findUniqueOrThrow({ where: { id: created.rule.id } })).toMatchObject({ state: 'fired', fireCount: 1 });
  });

  it('words the alert of a rule loaded at start-up as the user typed its level', async () => {
    await service.create(chat, spec({ condition: { kind: 'level', op: '>', price: '101000.50' } }), 'x');
    await shutdown();
    await boot();
    tick('BTC/USDT', 101_500);
    await front.waitForSent(1);
    expect(front.sent[0]!.text.split('\n')[0]).toBe('🔔 BTC/USDT above 101,000.5');
  });

  it('sends an alert whose write committed but whose answer was lost, though it was written claimed for this process', async () => {
    await shutdown();
    let lose = 1;
    // the connection drops after the commit, before the answer: the service sees an error, the rows are there
    const flaky = new Proxy(db.prisma, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop !== '$queryRaw') return typeof value === 'function' ? value.bind(target) : value;
        // called as a tag or with a built query (Prisma.sql)
        return async (query: TemplateStringsArray | { sql: string }, ...values: unknown[]) => {
          const result: unknown = await target.$queryRaw(query as TemplateStringsArray, ...values);
          if (lose > 0 && ('sql' in query ? query.sql : query.join('')).includes('WITH fired AS')) {
            lose--;
            throw new Error('Connection terminated unexpectedly');
          }
          return result;
        };
      },
    });
    await boot({ servicePrisma: flaky, handoff: true });
    const created = await service.create(chat, spec({}), 'x');
    tick('BTC/USDT', 101_500);
    await front.waitForSent(1);
    await expect.poll(async () => (await db.prisma.notification.findFirst())?.status, { timeout: 5_000 }).toBe('sent');
    expect(lose).toBe(0);
    expect(front.sent).toHaveLength(1);
    expect(await db.prisma.notification.findMany()).toEqual([expect.objectContaining({ dedupeKey: `rule:${created.rule.id}:fire:1`, attempts: 1 })]);
  });

  it('records a tick that fires over a thousand rules, in chunks, losing none', async () => {
    const row = await upsertChat(db.prisma, { platform: 'console', externalId: 'local', kind: 'private' });
    const many = 1_200;
    await db.prisma.alertRule.createMany({
      data: Array.from({ length: many }, (_, i) => ({
        chatId: row.id, exchange: 'binance', pair: 'BTC/USDT', kind: 'level' as const, op: '>', threshold: String(100_001 + i), source: 'bulk',
      })),
    });
    await shutdown();
    await boot(); // loads the 1 200 rules
    tick('BTC/USDT', 200_000);
    await expect.poll(() => db.prisma.notification.count(), { timeout: 30_000, interval: 100 }).toBe(many);
    expect(await db.prisma.alertRule.count({ where: { state: 'fired' } })).toBe(many);
    expect(new Set((await db.prisma.notification.findMany({ select: { dedupeKey: true } })).map((n) => n.dedupeKey)).size).toBe(many);
  });

  it('keeps a repeating rule armed across a restart without re-firing', async () => {
    const created = await service.create(chat, spec({ repeat: { kind: 'every', cooldownSec: 60 } }), 'x');
    tick('BTC/USDT', 101_500);
    await front.waitForSent(1);
    await shutdown();
    await boot(); // same database, new process state
    expect(service.engine.get(created.rule.id)?.state).toMatchObject({ armed: false, fireCount: 1 });
    tick('BTC/USDT', 101_600); // still above, never went back: no new message
    clock += 120_000;
    tick('BTC/USDT', 100_900); // back below
    tick('BTC/USDT', 101_200); // a new move after the cooldown
    await front.waitForSent(1); // the front after the restart: one message, the new move's
    expect(front.sent).toHaveLength(1);
    expect(front.sent[0]!.text).toContain('101,200');
    expect(await db.prisma.notification.count()).toBe(2);
  });

  it('enforces the per-chat quota with a clear message, and deletes rules', async () => {
    for (let i = 0; i < 3; i++) await service.create(chat, spec({ condition: { kind: 'level', op: '>', price: String(200_000 + i) } }), 'x');
    await expect(service.create(chat, spec({}), 'x')).rejects.toThrow(/already has 3 alerts, the most allowed here \(3\)/);
    const [first] = await service.list(chat);
    expect((await service.delete(chat, first!.id)).map((r) => r.id)).toEqual([first!.id]);
    expect(await service.delete({ ...chat, chatId: 'someone-else' }, first!.id + 1)).toEqual([]);
    expect(await service.list(chat)).toHaveLength(2);
    expect(await service.delete(chat, 'all')).toHaveLength(2);
    expect(service.engine.size()).toBe(0);
  });

  it('waits out a rate limit, retries transient errors, and never marks an unsent message sent', async () => {
    front.outcomes.push({ ok: false, reason: 'rate_limited', retryAfterMs: 2_000, error: '429' }, { ok: false, reason: 'transient', error: '502' });
    await service.create(chat, spec({}), 'x');
    tick('BTC/USDT', 101_500);
    await expect.poll(async () => (await db.prisma.notification.findFirst())?.attempts, { timeout: 5_000 }).toBe(1);
    expect((await db.prisma.notification.findFirstOrThrow()).status).toBe('pending');
    clock += 2_000; // retry_after elapsed
    dispatcher.wake();
    await expect.poll(async () => (await db.prisma.notification.findFirst())?.attempts, { timeout: 5_000 }).toBe(2);
    clock += 60_000; // past the transient backoff
    dispatcher.wake();
    await front.waitForSent(1);
    // the front has it; the row is marked right after the platform's answer
    await expect.poll(async () => (await db.prisma.notification.findFirst())?.status, { timeout: 5_000 }).toBe('sent');
    expect(await db.prisma.notification.findFirst()).toMatchObject({ attempts: 3 });
  });

  it('a blocked chat becomes inactive, its rules pause and leave the engine', async () => {
    front.outcomes.push({ ok: false, reason: 'forbidden', error: '403 bot was blocked by the user' });
    const a = await service.create(chat, spec({}), 'x');
    const b = await service.create(chat, spec({ condition: { kind: 'level', op: '<', price: '1' } }), 'x');
    tick('BTC/USDT', 101_500);
    await expect.poll(async () => (await db.prisma.chat.findFirst())?.active, { timeout: 5_000 }).toBe(false);
    expect(await db.prisma.notification.findFirst()).toMatchObject({ status: 'failed', error: '403 bot was blocked by the user' });
    expect(await db.prisma.alertRule.findUnique({ where: { id: b.rule.id } })).toMatchObject({ state: 'paused' });
    await expect.poll(() => service.engine.get(b.rule.id), { timeout: 5_000 }).toBeUndefined();
    expect(a.rule.id).toBeLessThan(b.rule.id);
  });

  it('sends rows left in flight by a crashed process at start-up', async () => {
    const created = await service.create(chat, spec({}), 'x');
    await shutdown();
    const row = await db.prisma.chat.findFirstOrThrow();
    await db.prisma.notification.create({ data: { chatId: row.id, ruleId: created.rule.id, dedupeKey: 'crash:1', text: 'left in flight', status: 'sending', attempts: 1, nextAttemptAt: new Date(clock) } });
    await boot();
    await front.waitForSent(1);
    expect(front.sent[0]!.text).toBe('left in flight');
  });
});
