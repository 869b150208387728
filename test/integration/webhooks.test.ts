import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { AlertService } from '../../src/alerts/service.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import { claimDue, enqueue } from '../../src/delivery/outbox.js';
import { postWebhook } from '../../src/delivery/webhook.js';
import type { ChatRef } from '../../src/chat/commands/types.js';
import { MarketHub } from '../../src/market/hub.js';
import { createLogger } from '../../src/log.js';
import { clearChats, engines } from '../helpers/db.js';
import { MemoryFeed } from '../helpers/memory-feed.js';
import { RecordingFront } from '../helpers/recording-front.js';

const log = createLogger('silent');
const LISTED = new Set(['BTC/USDT', 'ETH/USDT']);


interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** An HTTP receiver on 127.0.0.1, port 0, answering with queued statuses (then 204) and recording every request. */
async function startReceiver(): Promise<{ url: string; got: Received[]; statuses: number[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const statuses: number[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      const status = statuses.shift() ?? 204;
      res.writeHead(status).end(status >= 400 ? `refused with ${status}` : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    statuses,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const chat: ChatRef = { platform: 'console', chatId: 'local', kind: 'private', userId: 'u1' };
const poll = { timeout: 5_000, interval: 20 };

describe.each(engines)('webhooks on $name', ({ open }) => {
  let db: Database;
  let feed: MemoryFeed;
  let front: RecordingFront;
  let service: AlertService;
  let dispatcher: Dispatcher;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let clock: number;

  const tick = (pair: string, last: number) => {
    clock += 1_000;
    feed.emit(pair, last);
  };
  /** a one-shot rule that the next tick above `level` fires */
  const rule = (level: number) =>
    service.create(chat, { pair: 'BTC/USDT', exchange: 'binance', repeat: { kind: 'once' }, condition: { kind: 'level', op: '>', price: String(level) } }, `/alert BTC > ${level}`);
  const rows = (target: 'chat' | 'webhook') => db.prisma.notification.findMany({ where: { target }, orderBy: { id: 'asc' } });

  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    clock = Date.UTC(2026, 10, 25, 12, 0, 0);
    await clearChats(db);
    receiver = await startReceiver();
    feed = new MemoryFeed('binance', LISTED, new Map([['BTC/USDT', 100_000]]), () => clock);
    const hub = new MarketHub({ feeds: [feed], log, now: () => clock });
    front = new RecordingFront();
    service = new AlertService({ hub, log, maxRulesPerChat: 10, now: () => clock, onEnqueued: () => dispatcher.wake() });
    // the receiver is on loopback, which only WEBHOOK_ALLOW_LOCAL permits
    dispatcher = new Dispatcher({ prisma: db.prisma, fronts: new Map([['console', front]]), log, now: () => clock, idleMs: 20, postWebhook: (req) => postWebhook(req, { allowLocal: true }) });
    await service.start(db.prisma);
    await dispatcher.start();
  });
  afterEach(async () => {
    await dispatcher.stop();
    await service.stop();
    await receiver.close();
  });

  it('sends a firing to the chat and posts it, signed, to the webhook', async () => {
    const { secret } = await service.setWebhook(chat, receiver.url);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const created = await rule(101_000);
    tick('BTC/USDT', 101_500);
    await expect.poll(() => receiver.got.length, poll).toBe(1);
    await expect.poll(async () => (await db.prisma.notification.findMany({ where: { status: 'sent' } })).length, poll).toBe(2);
    expect(front.sent).toHaveLength(1);
    expect(front.sent[0]!.text).toContain('BTC/USDT above 101,000');
    expect(front.sent[0]!.text.match(/🔔/gu)).toHaveLength(1); // the webhook row is never packed into the chat message

    const [hook] = await rows('webhook');
    expect(hook).toMatchObject({ dedupeKey: `rule:${created.rule.id}:fire:1:webhook`, status: 'sent', attempts: 1 });
    const { headers, body } = receiver.got[0]!;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-maxflash-delivery']).toBe(hook!.id.toString());
    expect(headers['x-maxflash-signature']).toBe(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
    expect(JSON.parse(body)).toEqual({
      kind: 'alert', ruleId: created.rule.id, exchange: 'binance', pair: 'BTC/USDT', condition: 'BTC/USDT above 101,000', price: 101_500,
      at: clock, source: 'stream', final: true, language: 'en', platform: 'console', chat: 'local', sentAt: new Date(clock).toISOString(),
    });
    expect(await service.webhook(chat)).toEqual({ url: receiver.url, active: true, failures: 0, lastError: null, createdAt: expect.any(Date) });
  });

  it('retries a webhook that answers 500 and delivers it later; the chat message does not wait', async () => {
    await service.setWebhook(chat, receiver.url);
    receiver.statuses.push(500);
    await rule(101_000);
    tick('BTC/USDT', 101_500);
    await expect.poll(() => receiver.got.length, poll).toBe(1);
    await expect.poll(async () => (await rows('webhook'))[0]?.error, poll).toBe('webhook answered HTTP 500: refused with 500');
    const [waiting] = await rows('webhook');
    expect(waiting).toMatchObject({ status: 'pending', attempts: 1 });
    expect(waiting!.nextAttemptAt.getTime()).toBeGreaterThan(clock);
    await expect.poll(async () => (await rows('chat'))[0]?.status, poll).toBe('sent');
    expect(front.sent).toHaveLength(1);
    expect(await service.webhook(chat)).toMatchObject({ failures: 1, lastError: 'webhook answered HTTP 500: refused with 500' });

    clock += 2_000; // past the first backoff (at most 1 s)
    await expect.poll(() => receiver.got.length, poll).toBe(2);
    await expect.poll(async () => (await rows('webhook'))[0]?.status, poll).toBe('sent');
    expect(await rows('webhook')).toMatchObject([{ attempts: 2, error: null }]);
    expect(receiver.got[1]!.headers['x-maxflash-delivery']).toBe(receiver.got[0]!.headers['x-maxflash-delivery']);
    expect(await service.webhook(chat)).toMatchObject({ failures: 0, lastError: null });
  });

  it('fails a delivery the webhook refuses with 400, recording why, and still sends the chat message', async () => {
    await service.setWebhook(chat, receiver.url);
    receiver.statuses.push(400);
    await rule(101_000);
    tick('BTC/USDT', 101_500);
    await expect.poll(async () => (await rows('webhook'))[0]?.status, poll).toBe('failed');
    expect(await rows('webhook')).toMatchObject([{ attempts: 1, error: 'webhook answered HTTP 400: refused with 400' }]);
    await expect.poll(async () => (await rows('chat'))[0]?.status, poll).toBe('sent');
    expect(front.sent).toHaveLength(1);
    expect(await service.webhook(chat)).toMatchObject({ failures: 1, lastError: 'webhook answered HTTP 400: refused with 400' });
    clock += 60_000;
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.got).toHaveLength(1); // not tried again
  });

  it('posts nothing more after /webhook off, not even a delivery that was waiting for a retry', async () => {
    await service.setWebhook(chat, receiver.url);
    await rule(101_000);
    tick('BTC/USDT', 101_500);
    await expect.poll(() => receiver.got.length, poll).toBe(1);

    receiver.statuses.push(503);
    await rule(102_000);
    tick('BTC/USDT', 102_500);
    await expect.poll(() => receiver.got.length, poll).toBe(2);
    await expect.poll(async () => (await rows('webhook'))[1]?.error, poll).toMatch(/HTTP 503/);
    expect(await service.removeWebhook(chat)).toBe(true);
    expect(await service.webhook(chat)).toBeNull();
    clock += 2_000;
    await expect.poll(async () => (await rows('webhook'))[1]?.status, poll).toBe('failed');
    expect((await rows('webhook'))[1]!.error).toBe('webhook removed');

    await rule(103_000);
    tick('BTC/USDT', 103_500);
    await expect.poll(() => front.sent.length, poll).toBe(3);
    expect(await rows('webhook')).toHaveLength(2); // the last firing made no webhook row
    expect(receiver.got).toHaveLength(2);
    expect(await service.removeWebhook(chat)).toBe(false);
  });

  it('switches a webhook off when its receiver says it is gone (410), telling the chat how to turn it on again', async () => {
    await service.setWebhook(chat, receiver.url);
    receiver.statuses.push(410);
    await rule(101_000);
    tick('BTC/USDT', 101_500);
    await expect.poll(() => front.sent.length, poll).toBe(2);
    const notice = front.sent.find((m) => m.text.startsWith('⚠️'));
    expect(notice?.text).toBe(
      [`⚠️ Webhook switched off: ${receiver.url} failed a delivery.`, 'Last error: webhook answered HTTP 410: refused with 410', `Alerts still arrive here. To post to it again, send /webhook ${receiver.url} (you get a new secret).`].join('\n'),
    );
    expect(await service.webhook(chat)).toMatchObject({ active: false, failures: 1 });
    expect(await rows('webhook')).toMatchObject([{ status: 'failed', error: 'webhook switched off: webhook answered HTTP 410: refused with 410' }]);

    // later firings make no webhook rows, and setting it again turns it back on
    await rule(102_000);
    tick('BTC/USDT', 102_500);
    await expect.poll(() => front.sent.length, poll).toBe(3);
    expect(await rows('webhook')).toHaveLength(1);
    await service.setWebhook(chat, receiver.url);
    await rule(103_000);
    tick('BTC/USDT', 103_500);
    await expect.poll(() => receiver.got.length, poll).toBe(2);
    expect(await service.webhook(chat)).toMatchObject({ active: true, failures: 0 });
  });

  it('switches a webhook off after 50 failed attempts in a row, failing what still waited for it', async () => {
    await service.setWebhook(chat, receiver.url);
    await db.prisma.webhook.updateMany({ data: { failures: 48, lastError: 'webhook unreachable: ECONNREFUSED' } });
    receiver.statuses.push(503, 503);
    await rule(101_000);
    await rule(101_200);
    tick('BTC/USDT', 101_500); // two firings: the second row waits behind the first
    await expect.poll(async () => (await service.webhook(chat))?.failures, poll).toBe(49);
    expect(await service.webhook(chat)).toMatchObject({ active: true });
    clock += 2_000;
    await expect.poll(async () => (await service.webhook(chat))?.active, poll).toBe(false);
    expect(await service.webhook(chat)).toMatchObject({ failures: 50, lastError: 'webhook answered HTTP 503: refused with 503' });
    expect((await rows('webhook')).map((r) => r.status)).toEqual(['failed', 'failed']);
    await expect.poll(() => front.sent.some((m) => m.text.startsWith(`⚠️ Webhook switched off: ${receiver.url} failed 50 deliveries in a row.`)), poll).toBe(true);
    expect(receiver.got).toHaveLength(2);
  });

  it('claims webhook rows apart from chat rows, and despite a platform out of send tokens', async () => {
    await dispatcher.stop(); // claim by hand
    const { id: chatId } = await db.prisma.chat.create({ data: { platform: 'console', externalId: 'other' } });
    const payload = { kind: 'notice' } as const;
    await enqueue(db.prisma, [
      { chatId, dedupeKey: 'a', text: 'a', payload },
      { chatId, dedupeKey: 'a:webhook', text: 'a', payload, target: 'webhook' },
      { chatId, dedupeKey: 'b', text: 'b', payload },
    ], new Date(clock));
    const skipping = await claimDue(db.prisma, 10, new Date(clock), { skipPlatforms: ['console'] });
    expect(skipping.map((r) => [r.text, r.target])).toEqual([['a', 'webhook']]);
    const rest = await claimDue(db.prisma, 10, new Date(clock));
    expect(rest.map((r) => [r.text, r.target])).toEqual([['a', 'chat'], ['b', 'chat']]);
    dispatcher = new Dispatcher({ prisma: db.prisma, fronts: new Map(), log }); // for afterEach
  });

  it('replacing the webhook makes a new secret', async () => {
    const first = await service.setWebhook(chat, receiver.url);
    const second = await service.setWebhook(chat, `${receiver.url}/v2`);
    expect(second.secret).not.toBe(first.secret);
    expect(await db.prisma.webhook.count()).toBe(1);
    await rule(101_000);
    tick('BTC/USDT', 101_500);
    await expect.poll(() => receiver.got.length, poll).toBe(1);
    const { headers, body } = receiver.got[0]!;
    expect(headers['x-maxflash-signature']).toBe(`sha256=${createHmac('sha256', second.secret).update(body).digest('hex')}`);
  });
});
