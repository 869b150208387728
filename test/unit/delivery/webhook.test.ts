import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatchCommand } from '../../../src/chat/commands/index.js';
import type { ChatRef, CommandServices, WebhookView } from '../../../src/chat/commands/types.js';
import { validateWebhookUrl } from '../../../src/chat/commands/webhook.js';
import { renderReply } from '../../../src/chat/format.js';
import { loadConfig } from '../../../src/config.js';
import { classifyWebhookStatus, postWebhook, signWebhookBody } from '../../../src/delivery/webhook.js';
import { UserInputError } from '../../../src/errors.js';
import { isPrivateHost } from '../../../src/lib/net.js';
import { createLogger } from '../../../src/log.js';
import { MarketHub } from '../../../src/market/hub.js';
import { MemoryFeed } from '../../helpers/memory-feed.js';

const log = createLogger('silent');

describe('signWebhookBody', () => {
  it('matches RFC 4231 test case 2', () => {
    expect(signWebhookBody('Jefe', 'what do ya want for nothing?')).toBe('sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('is the hex HMAC-SHA256 of the raw UTF-8 body keyed with the secret text', () => {
    const secret = 'a'.repeat(64);
    const body = JSON.stringify({ kind: 'alert', condition: 'BTC/USDT above 100,000', note: 'ünïcode 🚀' });
    const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(body, 'utf8')).digest('hex');
    expect(signWebhookBody(secret, body)).toBe(`sha256=${expected}`);
    expect(signWebhookBody(secret, `${body} `)).not.toBe(`sha256=${expected}`);
  });
});

describe('classifyWebhookStatus', () => {
  it.each([
    [200, 'sent'], [204, 'sent'], [299, 'sent'],
    [429, 'retry'], [500, 'retry'], [502, 'retry'], [503, 'retry'],
    [301, 'failed'], [400, 'failed'], [401, 'failed'], [404, 'failed'], [410, 'failed'],
  ] as const)('HTTP %i → %s', (status, verdict) => {
    expect(classifyWebhookStatus(status)).toBe(verdict);
  });
});

describe('postWebhook', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });
  async function receiver(status: number, answer = ''): Promise<{ url: string; got: Array<{ headers: IncomingMessage['headers']; body: string }> }> {
    const got: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        res.writeHead(status).end(answer);
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
  }

  it('posts the body with its signature and delivery id', async () => {
    const { url, got } = await receiver(204);
    const body = '{"kind":"alert"}';
    await expect(postWebhook({ url, secret: 's3', deliveryId: '17', body }, { allowLocal: true })).resolves.toEqual({ ok: true });
    expect(got).toHaveLength(1);
    expect(got[0]!.body).toBe(body);
    expect(got[0]!.headers).toMatchObject({
      'content-type': 'application/json',
      'x-maxflash-signature': `sha256=${createHmac('sha256', 's3').update(body).digest('hex')}`,
      'x-maxflash-delivery': '17',
    });
  });

  it('retries 5xx, fails 4xx with what the receiver said, retries an unreachable host', async () => {
    const five = await receiver(503, 'busy');
    await expect(postWebhook({ url: five.url, secret: 's', deliveryId: '1', body: '{}' }, { allowLocal: true })).resolves.toEqual({ ok: false, retry: true, error: 'webhook answered HTTP 503: busy', status: 503 });
    await new Promise<void>((r) => server!.close(() => r()));
    const four = await receiver(400, 'bad payload');
    await expect(postWebhook({ url: four.url, secret: 's', deliveryId: '1', body: '{}' }, { allowLocal: true })).resolves.toEqual({ ok: false, retry: false, error: 'webhook answered HTTP 400: bad payload', status: 400 });
    const down = await postWebhook({ url: 'http://127.0.0.1:1/hook', secret: 's', deliveryId: '1', body: '{}' }, { timeoutMs: 2_000, allowLocal: true });
    expect(down).toMatchObject({ ok: false, retry: true });
    expect(down.ok || down.error).toMatch(/^webhook unreachable: /);
  });

  it('refuses a private address for good unless local receivers are allowed, by literal and by what a name resolves to', async () => {
    const { url, got } = await receiver(204);
    const port = new URL(url).port;
    const literal = await postWebhook({ url, secret: 's', deliveryId: '1', body: '{}' });
    expect(literal).toEqual({ ok: false, retry: false, error: 'webhook refused: 127.0.0.1 is a local or private-network address' });

    // a name with no telling suffix that resolves to this machine: only the connect-time lookup sees it
    const name = hostname();
    const resolved = (await lookup(name, { all: true })).map((a) => a.address);
    if (!resolved.every(isPrivateHost)) throw new Error(`this test needs ${name} to resolve to a private address; it resolves to ${resolved.join(', ')}`);
    const byName = await postWebhook({ url: `http://${name}:${port}/hook`, secret: 's', deliveryId: '2', body: '{}' });
    expect(byName).toMatchObject({ ok: false, retry: false });
    expect(byName.ok || byName.error).toMatch(new RegExp(`^webhook refused: ${name} resolves to the private address `));
    expect(got).toHaveLength(0);

    await expect(postWebhook({ url: `http://${name}:${port}/hook`, secret: 's', deliveryId: '3', body: '{}' }, { allowLocal: true })).resolves.toEqual({ ok: true });
    expect(got.map((g) => g.headers['x-maxflash-delivery'])).toEqual(['3']);
  });

  it('does not follow a redirect', async () => {
    const { url, got } = await receiver(302, 'moved');
    await expect(postWebhook({ url, secret: 's', deliveryId: '1', body: '{}' }, { allowLocal: true })).resolves.toEqual({ ok: false, retry: false, error: 'webhook answered HTTP 302: moved', status: 302 });
    expect(got).toHaveLength(1);
  });
});

describe('isPrivateHost', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '[::1]', 'fd12:3456::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', new URL('http://[::ffff:127.0.0.1]/').hostname, 'localhost', 'db.internal', 'printer.local'])(
    '%s is private',
    (host) => expect(isPrivateHost(host)).toBe(true),
  );
  it.each(['8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8', 'example.org', 'localhost.example.org'])('%s is public', (host) => expect(isPrivateHost(host)).toBe(false));
});

describe('validateWebhookUrl', () => {
  it.each([
    ['https://example.org/hook', 'https://example.org/hook'],
    ['HTTPS://Example.ORG:8443/a?b=c', 'https://example.org:8443/a?b=c'],
  ])('accepts %s', (input, normal) => {
    expect(validateWebhookUrl(input)).toBe(normal);
  });

  it.each([
    ['http://127.0.0.1:9000/x', 'http://127.0.0.1:9000/x'],
    ['http://localhost/x', 'http://localhost/x'],
    ['https://192.168.1.5/hook', 'https://192.168.1.5/hook'],
  ])('accepts the local %s only where the operator allows it', (input, normal) => {
    expect(validateWebhookUrl(input, { allowLocal: true })).toBe(normal);
    expect(() => validateWebhookUrl(input)).toThrow(/does not post to local or private-network addresses/);
  });

  it.each(['http://127.0.0.1/', 'https://localhost:8443/', 'https://10.0.0.2/', 'https://172.20.1.1/', 'https://169.254.169.254/latest', 'https://[::1]/', 'https://printer.local/', 'https://100.100.1.1/'])(
    'refuses the private address %s by default',
    (input) => {
      expect(() => validateWebhookUrl(input)).toThrow(/local or private-network/);
    },
  );

  it.each([
    ['http://example.org/hook', /must start with https/],
    ['ftp://example.org/', /must start with https/],
    ['example.org/hook', /is not a URL/],
    ['https://user:pw@example.org/', /credentials/],
    ['https://example.org/a b', /one URL/],
    [`https://example.org/${'x'.repeat(600)}`, /one URL/],
  ])('refuses %s', (input, why) => {
    expect(() => validateWebhookUrl(input)).toThrow(UserInputError);
    expect(() => validateWebhookUrl(input)).toThrow(why);
  });
});

describe('/webhook', () => {
  const NOW = Date.UTC(2026, 10, 25, 16, 0, 0);
  function setup() {
    const hooks = new Map<string, WebhookView & { secret: string }>();
    const hub = new MarketHub({ feeds: [new MemoryFeed('binance', new Set(['BTC/USDT']))], log });
    const alerts = {
      webhook: async (c: ChatRef) => {
        const h = hooks.get(c.chatId);
        return h ? { url: h.url, active: h.active, failures: h.failures, lastError: h.lastError, createdAt: h.createdAt } : null;
      },
      setWebhook: async (c: ChatRef, url: string) => {
        const secret = 'f'.repeat(64);
        hooks.set(c.chatId, { url, secret, active: true, failures: 0, lastError: null, createdAt: new Date(NOW) });
        return { url, secret };
      },
      removeWebhook: async (c: ChatRef) => hooks.delete(c.chatId),
    } as unknown as NonNullable<CommandServices['alerts']>;
    const services: CommandServices = { hub, config: loadConfig({}), alerts, now: () => NOW };
    const chat: ChatRef = { platform: 'console', chatId: 'c1', kind: 'private' };
    const say = async (text: string, as: ChatRef = chat, canManage?: (c: ChatRef) => Promise<boolean>) =>
      renderReply((await dispatchCommand(text, as, { services, log, ...(canManage ? { canManage } : {}) }))!, 'en');
    return { say, hooks };
  }

  it('sets a webhook showing the secret once, shows status without it, and removes it', async () => {
    const { say, hooks } = setup();
    expect(await say('/webhook')).toBe('No webhook. With /webhook https://example.org/hook every alert is also POSTed there as signed JSON.');
    const set = await say('/webhook https://example.org/hook');
    expect(set).toBe(
      [
        'Webhook set: https://example.org/hook',
        `Secret (shown once — store it now): ${'f'.repeat(64)}`,
        'Every alert is POSTed there as JSON. To verify one, compute the HMAC-SHA256 of the raw body keyed with this secret: the x-maxflash-signature header is "sha256=" and that hex. x-maxflash-delivery is the same on a retried delivery.',
        'Lost the secret? Send /webhook with the URL again for a new one. /webhook off removes it.',
      ].join('\n'),
    );
    expect(await say('/webhook')).toBe(
      'Webhook: https://example.org/hook (active)\nNo delivery errors.\nThe secret is shown only when the webhook is set. /webhook off removes it.',
    );
    hooks.get('c1')!.lastError = 'webhook answered HTTP 500';
    hooks.get('c1')!.failures = 3;
    const status = await say('/webhook');
    expect(status).toContain('Last error: webhook answered HTTP 500 (3 failed in a row)');
    expect(status).not.toContain('f'.repeat(64));
    expect(await say('/webhook off')).toBe('Webhook removed; alerts go to this chat only.');
    expect(await say('/webhook off')).toBe('This chat has no webhook.');
  });

  it('refuses a plain http URL with an example, and is for admins only in groups', async () => {
    const { say, hooks } = setup();
    expect(await say('/webhook http://example.org/hook')).toMatch(/must start with https:\/\/.*\nExample: \/webhook https:\/\/example\.org\/hook$/s);
    const group: ChatRef = { platform: 'telegram', chatId: '-100', kind: 'group', userId: '7' };
    expect(await say('/webhook https://example.org/hook', group, async () => false)).toBe("Only this group's admins can change its settings.");
    expect(hooks.size).toBe(0);
  });
});
