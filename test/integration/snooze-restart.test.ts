import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AlertService } from '../../src/alerts/service.js';
import { parseAlert } from '../../src/alerts/grammar.js';
import type { ChatRef } from '../../src/chat/commands/types.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { createLogger } from '../../src/log.js';
import { MarketHub } from '../../src/market/hub.js';
import { createPostgresDatabase } from '../helpers/db.js';
import { MemoryFeed } from '../helpers/memory-feed.js';

/**
 * A snooze outlives a restart: the service is stopped and the database closed, then both are opened again
 * on the same data. Time is the service's clock seam and the snooze's end a timer the test fires, so
 * nothing here waits for real time.
 */

const logLines: string[] = [];
const log = createLogger('debug', { write: (line: string) => void logLines.push(line) });
const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
const HOUR = 3_600_000;

interface Reopenable {
  name: string;
  /** a handle on the same database each time */
  open(): Promise<Database>;
  dispose(): Promise<void>;
}

async function pgliteOnDisk(): Promise<Reopenable> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'maxflash-snooze-'));
  return { name: 'pglite', open: () => openDatabase({ dataDir: dir }), dispose: () => rm(dir, { recursive: true, force: true }) };
}

async function postgres(url: string): Promise<Reopenable> {
  const scratch = await createPostgresDatabase(url);
  return { name: 'postgres', open: () => openDatabase({ databaseUrl: scratch.url, dataDir: os.tmpdir() }), dispose: scratch.drop };
}

const targets: Array<{ name: string; make: () => Promise<Reopenable> }> = [
  { name: 'pglite', make: pgliteOnDisk },
  ...(TEST_DATABASE_URL ? [{ name: 'postgres', make: () => postgres(TEST_DATABASE_URL) }] : []),
];

describe.each(targets)('snooze across a restart on $name', ({ make }) => {
  let store: Reopenable | undefined;
  afterAll(() => store?.dispose());

  let clock = Date.parse('2026-11-25T12:00:00Z');
  const now = (): number => clock;
  const feed = new MemoryFeed('binance', new Set(['BTC/USDT']), new Map([['BTC/USDT', 100_000]]), now);
  const chat: ChatRef = { platform: 'telegram', chatId: '5001', kind: 'private', userId: '5001' };

  /** One run of the bot: its own hub and service, timers collected instead of set. */
  async function boot(db: Database) {
    const timers: Array<{ ms: number; fire: () => void; cancelled: boolean }> = [];
    const hub = new MarketHub({ feeds: [feed], log, now });
    const service = new AlertService({
      hub, log, now, maxRulesPerChat: 10,
      setTimer: (fire, ms) => {
        const t = { ms, fire, cancelled: false };
        timers.push(t);
        return { cancel: () => void (t.cancelled = true) };
      },
    });
    await service.start(db.prisma);
    return { service, timers, live: () => timers.filter((t) => !t.cancelled) };
  }

  const notifications = (db: Database, ruleId: number) => db.prisma.notification.count({ where: { ruleId } });

  it('keeps a snoozed rule out of the engine until the snooze ends, then evaluates it again', async () => {
    store = await make();
    let db = await store.open();
    let run = await boot(db);
    const spec = parseAlert('BTC/USDT > 110000 every 1m', { defaultQuote: 'USDT', exchanges: ['binance'], now: new Date(clock) });
    const { rule } = await run.service.create(chat, { ...spec, exchange: 'binance' }, '/alert BTC/USDT > 110000 every 1m');
    const id = rule.id;

    const snoozed = await run.service.snooze(chat, id, 3600);
    expect(snoozed?.until.getTime()).toBe(clock + HOUR);
    expect((await db.prisma.alertRule.findUniqueOrThrow({ where: { id } })).snoozedUntil?.getTime()).toBe(clock + HOUR);
    expect(run.service.engine.get(id)).toBeUndefined();
    await run.service.stop();
    await db.close();

    // 20 minutes later the bot comes back: 40 minutes of the snooze are left
    clock += 20 * 60_000;
    db = await store.open();
    run = await boot(db);
    expect(run.service.engine.get(id)).toBeUndefined();
    expect(run.live().map((t) => t.ms)).toEqual([40 * 60_000]);
    feed.emit('BTC/USDT', 111_000); // would fire if it were evaluated
    clock += 39 * 60_000;
    feed.emit('BTC/USDT', 112_000);
    expect(run.service.engine.get(id)).toBeUndefined();

    // the snooze ends: the timer puts it back and clears the column; the next price fires it
    clock += 60_000;
    run.live()[0]!.fire();
    await expect.poll(() => run.service.engine.get(id)).toBeDefined();
    expect((await db.prisma.alertRule.findUniqueOrThrow({ where: { id } })).snoozedUntil).toBeNull();
    expect(await notifications(db, id)).toBe(0); // nothing fired while it slept
    feed.emit('BTC/USDT', 113_000);
    await expect.poll(() => notifications(db, id)).toBe(1);

    // a snooze that ran out while the bot was down: the rule is back in at once, with no timer
    await run.service.snooze(chat, id, 3600);
    await run.service.stop();
    await db.close();
    clock += 2 * HOUR;
    db = await store.open();
    run = await boot(db);
    expect(run.service.engine.get(id)).toBeDefined();
    expect(run.live()).toEqual([]);
    expect((await db.prisma.alertRule.findUniqueOrThrow({ where: { id } })).snoozedUntil).toBeNull();

    // re-arming a snoozed rule ends the snooze on the row too, so a restart does not bring it back
    await run.service.snooze(chat, id, 3600);
    expect(await run.service.rearm(chat, id)).toMatchObject({ already: false });
    expect((await db.prisma.alertRule.findUniqueOrThrow({ where: { id } })).snoozedUntil).toBeNull();
    await run.service.stop();
    await db.close();
    db = await store.open();
    run = await boot(db);
    expect(run.service.engine.get(id)).toBeDefined();
    await run.service.stop();
    await db.close();
  });

  it('logs no errors', () => {
    expect(logLines.filter((l) => /"level":"(error|fatal)"/.test(l))).toEqual([]);
  });
});
