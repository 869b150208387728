import os from 'node:os';
import pg from 'pg';
import type { ChatFront } from '../../src/chat/front.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderAlertMessage } from '../../src/chat/format.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { coalesce, Dispatcher, type DispatcherOptions } from '../../src/delivery/dispatcher.js';
import { TELEGRAM_WINDOW_MS, type ChatKind, type Platform } from '../../src/delivery/limits.js';
import { listenForOutbox } from '../../src/delivery/listen.js';
import type { NewNotification } from '../../src/delivery/notification.js';
import { enqueue } from '../../src/delivery/outbox.js';
import { createLogger } from '../../src/log.js';
import { clearChats, createPostgresDatabase, engines } from '../helpers/db.js';
import { RecordingFront } from '../helpers/recording-front.js';
import { busiestWindow, until } from '../helpers/wait.js';

const log = createLogger('silent');
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);



const alertText = (ruleId: number, price: number) =>
  renderAlertMessage('en', { kind: 'alert', ruleId, exchange: 'binance', pair: 'SOL/USDT', condition: 'SOL/USDT above 200', price, at: T0, source: 'stream', final: true }, { kind: 'level', op: '>', price: '200' });

describe('coalesce', () => {
  const rows = (...texts: string[]) => texts.map((text, i) => ({ id: i, text }));

  it('joins what fits with a blank line and starts a new message when the next would not fit', () => {
    const msgs = coalesce(rows('a'.repeat(40), 'b'.repeat(40), 'c'.repeat(40)), 100);
    expect(msgs.map((m) => m.text)).toEqual([`${'a'.repeat(40)}\n\n${'b'.repeat(40)}`, 'c'.repeat(40)]);
    expect(msgs.map((m) => m.completes.map((r) => r.id))).toEqual([[0, 1], [2]]);
    expect(coalesce(rows('x', 'y'), Number.POSITIVE_INFINITY)).toHaveLength(1);
  });

  it('splits a text too long for one message at breaks, and completes its row with the last part', () => {
    const long = Array.from({ length: 40 }, (_, i) => `line ${i} ${'w'.repeat(20)}`).join('\n');
    const msgs = coalesce(rows('short', long), 300);
    for (const m of msgs) expect(m.text.length).toBeLessThanOrEqual(300);
    expect(msgs.every((m) => !m.text.startsWith('\n') && !m.text.endsWith('\n'))).toBe(true);
    expect(msgs.map((m) => m.text).join('\n').replace('short\n\n', '')).toBe(long);
    expect(msgs.at(-1)!.completes.map((r) => r.id)).toEqual([1]);
    expect(msgs.slice(0, -1).flatMap((m) => m.completes.map((r) => r.id))).toEqual([0]);
  });

  it('cuts a text without breaks hard, never inside a surrogate pair', () => {
    const text = '🚀'.repeat(300); // 600 UTF-16 units
    const msgs = coalesce(rows(text), 101);
    expect(msgs.map((m) => m.text).join('')).toBe(text);
    for (const m of msgs) {
      expect(m.text.length).toBeLessThanOrEqual(101);
      expect(m.text.length % 2).toBe(0);
    }
  });
});

describe.each(engines)('dispatcher on $name', ({ name, open }) => {
  let db: Database;
  let clock: number;
  let sleeps: number[];
  let dispatcher: Dispatcher | undefined;
  let telegram: RecordingFront;
  let consoleFront: RecordingFront;
  let seq = 0;

  /** The dispatcher's every wait moves the fake clock by exactly what it asked for. */
  const fakeSleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      sleeps.push(ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        clock += ms;
        resolve();
      }, 1);
      signal.addEventListener('abort', onAbort, { once: true });
    });

  async function startDispatcher(opts: Partial<DispatcherOptions> = {}): Promise<Dispatcher> {
    dispatcher = new Dispatcher({
      prisma: db.prisma,
      fronts: new Map<Platform, ChatFront>([['telegram', telegram], ['console', consoleFront]]),
      log,
      now: () => clock,
      sleep: fakeSleep,
      idleMs: 1_000,
      ...opts,
    });
    await dispatcher.start();
    return dispatcher;
  }

  async function chat(platform: Platform, externalId: string, kind: ChatKind = 'private'): Promise<number> {
    return (await db.prisma.chat.create({ data: { platform, externalId, kind } })).id;
  }

  function row(chatId: number, text: string): NewNotification {
    return { chatId, dedupeKey: `t:${seq++}`, text, payload: { kind: 'notice' } };
  }

  async function settled(): Promise<boolean> {
    return (await db.prisma.notification.count({ where: { status: { in: ['pending', 'sending'] } } })) === 0;
  }

  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    clock = T0;
    sleeps = [];
    telegram = new RecordingFront('telegram', () => clock);
    consoleFront = new RecordingFront('console', () => clock);
    await clearChats(db);
  });
  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
  });

  it('sends 50 firings due at once for one chat as one message, marking them sent together', async () => {
    const id = await chat('console', 'local');
    const texts = Array.from({ length: 50 }, (_, i) => alertText(i + 1, 200 + i));
    await enqueue(db.prisma, texts.map((t) => row(id, t)), new Date(clock));
    await startDispatcher();
    await until('all sent', settled, 20_000);
    expect(consoleFront.sent).toHaveLength(1);
    expect(consoleFront.sent[0]!.text).toBe(texts.join('\n\n'));
    const rows = await db.prisma.notification.findMany();
    expect(rows.every((r) => r.status === 'sent' && r.attempts === 1 && r.sentAt?.getTime() === T0)).toBe(true);
  });

  it('packs them into as few Telegram messages as its 4096-character limit allows, and splits an oversized one', async () => {
    const id = await chat('telegram', '1001');
    const texts = Array.from({ length: 50 }, (_, i) => alertText(i + 1, 200 + i));
    const huge = Array.from({ length: 120 }, (_, i) => `note line ${i}: ${'lorem ipsum '.repeat(8)}`).join('\n');
    await enqueue(db.prisma, [...texts, huge].map((t) => row(id, t)), new Date(clock));
    await startDispatcher();
    await until('all sent', settled, 20_000);
    const packed = coalesce([...texts, huge].map((text) => ({ text })), 4096).map((m) => m.text);
    expect(packed).toHaveLength(6); // 50 alerts and ~13 000 characters of note: 2 + 4 messages
    expect(telegram.sent.map((s) => s.text)).toEqual(packed);
    for (const s of telegram.sent) expect(s.text.length).toBeLessThanOrEqual(4096);
    // two close together (the private chat's burst, the second after the platform's spacing), then one a second
    expect(telegram.sent.map((s) => s.at - T0)).toEqual([0, 30, ...telegram.sent.slice(2).map((_, i) => (i + 1) * 1_000)]);
    expect(await db.prisma.notification.count({ where: { status: 'sent', attempts: 1 } })).toBe(51);
  });

  it('waits out a 429 in one chat for exactly retry_after while other chats carry on', async () => {
    const a = await chat('telegram', 'A');
    const b = await chat('telegram', 'B');
    telegram.script.set('A', [{ ok: false, reason: 'rate_limited', retryAfterMs: 7_000, error: '429 Too Many Requests: retry after 7' }]);
    await enqueue(db.prisma, [row(a, 'a1'), row(b, 'b1'), row(a, 'a2')], new Date(clock));
    await startDispatcher();
    await until('all sent', settled, 20_000);
    expect(telegram.to('B')).toEqual([{ chatId: 'B', text: 'b1', at: T0 + 30 }]); // after A's first try, at the platform's spacing
    expect(telegram.attempts.filter((s) => s.chatId === 'A').map((s) => s.at)).toEqual([T0, T0 + 7_000]);
    expect(telegram.to('A')).toEqual([{ chatId: 'A', text: 'a1\n\na2', at: T0 + 7_000 }]);
    expect((await db.prisma.notification.findMany({ where: { chatId: a } })).map((r) => r.attempts)).toEqual([2, 2]);
    expect(sleeps.every((ms) => ms >= 1)).toBe(true);
  });

  it('pauses the whole platform on a global 429, and only that platform', async () => {
    const ids = await Promise.all(['A', 'B', 'C'].map((c) => chat('telegram', c)));
    const local = await chat('console', 'local');
    telegram.script.set('A', [{ ok: false, reason: 'rate_limited', retryAfterMs: 3_000, global: true, error: '429 (global)' }]);
    await enqueue(db.prisma, [...ids.map((id, i) => row(id, `t${i}`)), row(local, 'c0')], new Date(clock));
    await startDispatcher({ concurrency: 1 });
    await until('all sent', settled, 20_000);
    expect(consoleFront.sent).toEqual([{ chatId: 'local', text: 'c0', at: T0 }]);
    // after the pause, one at a time at the platform's spacing (1035/30 ms, turns taken up to 5 ms early)
    expect(telegram.attempts.map((s) => [s.chatId, s.at - T0])).toEqual([['A', 0], ['A', 3_000], ['B', 3_030], ['C', 3_064]]);
    // waiting for the platform did not count as an attempt
    expect((await db.prisma.notification.findMany({ where: { chatId: { in: ids } }, orderBy: { id: 'asc' } })).map((r) => r.attempts)).toEqual([2, 1, 1]);
  });

  it('keeps every Telegram limit for many chats at once, without spinning', async () => {
    const privates = await Promise.all(Array.from({ length: 120 }, (_, i) => chat('telegram', `p${i}`)));
    const busy = await chat('telegram', 'busy');
    const group = await chat('telegram', 'group', 'group');
    const big = (tag: string, i: number) => `${tag} ${i} ${'x'.repeat(3_000)}`; // two never fit one message
    await enqueue(
      db.prisma,
      [
        ...Array.from({ length: 8 }, (_, i) => row(busy, big('busy', i))),
        ...Array.from({ length: 25 }, (_, i) => row(group, big('group', i))),
        ...privates.flatMap((id, i) => [row(id, `hello ${i}`), row(id, `again ${i}`)]),
      ],
      new Date(clock),
    );
    await startDispatcher({ batch: 50 });
    await until('all sent', settled, 60_000);
    const times = telegram.sent.map((s) => s.at).sort((x, y) => x - y);
    expect(telegram.sent).toHaveLength(120 + 8 + 25);
    expect(busiestWindow(times, 1_000)).toBeLessThanOrEqual(30);
    expect(busiestWindow(times, TELEGRAM_WINDOW_MS)).toBeLessThanOrEqual(30);
    const busyTimes = telegram.to('busy').map((s) => s.at - T0);
    // the chat's burst of two needs no second between them (the platform spacing may put other chats in between)
    expect(busyTimes[0]).toBe(0);
    expect(busyTimes[1]!).toBeLessThan(1_000);
    // the chat's bucket: bursts of two (alerts), about one a second on average — any n sends in a row span
    // at least (n - 2) seconds; after a quiet spell its burst is back, so two may again go close together
    for (let i = 0; i < busyTimes.length; i++) for (let j = i + 2; j < busyTimes.length; j++) expect(busyTimes[j]! - busyTimes[i]!).toBeGreaterThanOrEqual((j - i - 1) * 1_000);
    const groupTimes = telegram.to('group').map((s) => s.at);
    expect(busiestWindow(groupTimes, 60_000)).toBe(18);
    expect(groupTimes[18]! - groupTimes[0]!).toBe(60_000); // the 19th goes as soon as the first leaves the minute
    privates.forEach((_, i) => expect(telegram.to(`p${i}`)).toHaveLength(1)); // both rows of each, coalesced
    // waiting for a turn never spends an attempt
    expect(await db.prisma.notification.count({ where: { attempts: { not: 1 } } })).toBe(0);
    // no busy loop: the dispatcher slept only until something could go, a bounded number of times
    expect(sleeps.every((ms) => ms >= 1 && ms <= 1_000)).toBe(true);
    expect(sleeps.length).toBeLessThan(((groupTimes.at(-1)! - T0) / 1_000) * 3 + 20);
  });

  it.runIf(name === 'postgres')('wakes on NOTIFY from another connection, and listens again after losing its connection', async () => {
    const adminUrl = process.env.TEST_DATABASE_URL!;
    const scratch = await createPostgresDatabase(adminUrl);
    const other = await openDatabase({ databaseUrl: scratch.url, dataDir: os.tmpdir() });
    const front = new RecordingFront('console', Date.now);
    const d = new Dispatcher({
      prisma: other.prisma,
      fronts: new Map([['console', front]]),
      log,
      idleMs: 60_000, // so only a notification can explain a prompt send
      listen: listenForOutbox(scratch.url, { log }),
    });
    try {
      await d.start();
      const id = (await other.prisma.chat.create({ data: { platform: 'console', externalId: 'remote' } })).id;
      // a separate connection, as a second instance would have
      const writer = new pg.Client({ connectionString: scratch.url });
      await writer.connect();
      try {
        await writer.query('BEGIN');
        await writer.query(`INSERT INTO notifications (chat_id, dedupe_key, text, next_attempt_at) VALUES ($1, 'remote:1', 'from afar', now())`, [id]);
        await writer.query('NOTIFY maxflash_outbox');
        await new Promise((r) => setTimeout(r, 300));
        expect(front.sent).toHaveLength(0); // held until commit
        await writer.query('COMMIT');
        await until('the notified row to be sent', () => front.sent.length === 1, 5_000);
        // the listener's connection dies; it comes back and hears the next one
        await writer.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN maxflash_outbox'`);
        await new Promise((r) => setTimeout(r, 100));
        await until('the listener to reconnect', async () => (await writer.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN maxflash_outbox'`)).rowCount === 1, 10_000);
        await enqueue(other.prisma, [{ chatId: id, dedupeKey: 'remote:2', text: 'again', payload: { kind: 'notice' } }], new Date());
        await until('the second row to be sent', () => front.sent.length === 2, 5_000);
      } finally {
        await writer.end();
      }
    } finally {
      await d.stop();
      await other.close();
      await scratch.drop();
    }
  });
});
