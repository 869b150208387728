import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/delivery/limits.js';
import { TelegramFront, type TelegramFrontOptions } from '../../src/chat/telegram.js';
import { commandList, type CommandServices } from '../../src/chat/commands/index.js';
import { loadConfig } from '../../src/config.js';
import { HttpServer, type RouteHandler } from '../../src/http/server.js';
import { Metrics } from '../../src/http/metrics.js';
import { createLogger } from '../../src/log.js';
import { MarketHub } from '../../src/market/hub.js';
import { MemoryFeed } from '../helpers/memory-feed.js';
import { channelChat, groupChat, privateChat, startFakeTelegram, tgUser, type FakeTelegram, type SentMessage } from '../fakes/telegram.js';
import { render } from '../../src/i18n/index.js';

/**
 * The real grammY (with auto-retry) against the local Bot API fake, in-process: long polling, webhook
 * mode through the app's HTTP server, send() outcomes and bounded shutdown. Timings are printed, never
 * asserted, except that stop() stays within the bound it promises.
 */

const logLines: string[] = [];
const log = createLogger('debug', { write: (line: string) => void logLines.push(line) });

function makeServices(): CommandServices {
  const config = loadConfig({ EXCHANGES: 'binance' });
  const feed = new MemoryFeed('binance', new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']), new Map([['BTC/USDT', 97234.12], ['ETH/USDT', 3456.789]]));
  const hub = new MarketHub({ feeds: [feed], log, now: Date.now });
  return { hub, config, now: Date.now };
}

function front(fake: FakeTelegram, extra: Partial<TelegramFrontOptions> = {}): TelegramFront {
  return new TelegramFront({ token: fake.token, apiRoot: fake.apiRoot, services: makeServices(), log, ...extra });
}

const alice = tgUser(1001, 'Alice', 'alice');
const bob = tgUser(1002, 'Bob');
const inChat = (chat: { id: number }) => (m: SentMessage) => m.chat_id === String(chat.id);

describe('Telegram front, long polling', () => {
  let fake: FakeTelegram;
  let bot: TelegramFront;

  beforeAll(async () => {
    fake = await startFakeTelegram();
    bot = front(fake);
    await bot.start();
  });

  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
  });

  it('identifies itself, publishes the command menu and clears any webhook before polling', async () => {
    expect(bot.username).toBe(fake.botUsername);
    // the English menu for everyone, and a Russian one for clients set to Russian
    expect(fake.commandSets).toHaveLength(2);
    expect(fake.commandSets[0]!['commands']).toEqual(commandList().map((c) => ({ command: c.name, description: render('en', { key: c.summary }) })));
    expect(fake.commandSets[0]!['language_code']).toBeUndefined();
    expect(fake.commandSets[1]!['language_code']).toBe('ru');
    expect(fake.commandSets[1]!['commands']).toEqual(commandList().map((c) => ({ command: c.name, description: render('ru', { key: c.summary }) })));
    expect(fake.commandSets[1]!['commands']).toContainEqual({ command: 'language', description: 'показать или выбрать язык ответов и алертов' });
    expect(fake.webhookDeletes).toEqual([{ drop_pending_updates: false }]);
    await fake.waitForCall('getUpdates', (c) => Number(c.payload['timeout']) === 30);
    const order = fake.calls.map((c) => c.method);
    expect(order.slice(0, 5)).toEqual(['getMe', 'setMyCommands', 'setMyCommands', 'deleteWebhook', 'getUpdates']);
  });

  it('answers /price in a private chat, and reports the round trip', async () => {
    const chat = privateChat(alice);
    fake.userSays(chat, alice, '/price BTC/USDT');
    const first = await fake.waitForSent(inChat(chat));
    expect(first.text).toMatch(/^BTC\/USDT on binance: 97,234\.12 USDT  ▲ \+1\.50% 24h\nquote .+/);
    expect(first.parse_mode).toBeUndefined();

    const rtts: number[] = [];
    for (let i = 0; i < 20; i++) {
      const before = fake.sent().length;
      const t0 = Date.now();
      fake.userSays(chat, alice, '/price eth');
      const m = await fake.waitForSent((s) => fake.sent().indexOf(s) >= before && inChat(chat)(s));
      rtts.push(m.at - t0);
      expect(m.text).toMatch(/^ETH\/USDT on binance: 3,456\.79 USDT/);
    }
    rtts.sort((a, b) => a - b);
    console.log(`[telegram long polling] /price update queued → sendMessage received: min ${rtts[0]} ms, median ${rtts[10]} ms, max ${rtts[19]} ms (20 runs)`);
  });

  it('ignores commands for another bot and answers ones addressed to it', async () => {
    const chat = privateChat(bob);
    fake.userSays(chat, bob, '/price@OtherBot BTC/USDT');
    fake.userSays(chat, bob, `/price@${fake.botUsername} ETH/USDT`);
    await fake.waitForSent((m) => inChat(chat)(m) && m.text.startsWith('ETH/USDT'));
    // updates are handled in order, so the first one has been dealt with by now
    expect(fake.sent().filter(inChat(chat)).map((m) => m.text.split(' ')[0])).toEqual(['ETH/USDT']);
  });

  it('greets on /start with the help text and explains /help', async () => {
    const carol = tgUser(1003, 'Carol');
    const chat = privateChat(carol);
    fake.userSays(chat, carol, '/start');
    const greeting = await fake.waitForSent(inChat(chat));
    expect(greeting.text).toMatch(/^MaxFlash: live crypto prices and alerts\./);
    for (const c of commandList()) expect(greeting.text).toContain(render('en', { key: c.usage }));
    // and three examples to start from
    expect(greeting.text).toMatch(/\nTry:\n  \/price BTC\/USDT — .+\n  \/alert SOL\/USDT > 200 — .+\n  \/watch ETH\/USDT — .+$/);
    fake.userSays(chat, carol, '/help price');
    const help = await fake.waitForSent((m) => inChat(chat)(m) && m !== greeting);
    expect(help.text).toContain('Examples:\n  /price BTC/USDT');
  });

  it('hints at commands for anything else in a private chat, without crashing on stickers, photos, forwards or edits', async () => {
    const dave = tgUser(1004, 'Dave');
    const chat = privateChat(dave);
    fake.userSays(chat, dave, 'hello bot');
    fake.userSendsSticker(chat, dave);
    fake.userSendsPhoto(chat, dave, 'look');
    fake.userForwards(chat, dave, '/price BTC/USDT', alice);
    fake.userEdits(chat, dave, '/price BTC/USDT');
    fake.userSays(chat, dave, '/help');
    await fake.waitForSent((m) => inChat(chat)(m) && m.text.startsWith('MaxFlash'));
    const texts = fake.sent().filter(inChat(chat)).map((m) => m.text);
    const hint = 'Commands start with a slash, e.g. /price BTC/USDT. Type /help for the list.';
    // text, sticker, photo and forward each get the hint; the edit gets nothing; then /help
    expect(texts.slice(0, 4)).toEqual([hint, hint, hint, hint]);
    expect(texts).toHaveLength(5);
  });

  it('answers commands in groups (quoting the question) and stays quiet otherwise', async () => {
    const group = groupChat(-1001234567890, 'Traders');
    fake.groupSays(group, alice, 'hello everyone');
    fake.userSendsSticker(group, alice);
    fake.groupSays(group, alice, '/prcie btc'); // maybe for another bot: no correction in a group
    fake.groupSays(group, alice, '/price@OtherBot btc');
    const asked = fake.groupSays(group, bob, '/price BTC/USDT');
    fake.groupSays(group, bob, `/prcie@${fake.botUsername} btc`);
    const correction = await fake.waitForSent((m) => inChat(group)(m) && m.text.startsWith('Unknown command'));
    expect(correction.text).toBe('Unknown command /prcie. Did you mean /price? /help lists them all.');
    const answers = fake.sent().filter(inChat(group));
    expect(answers).toHaveLength(2);
    expect(answers[0]!.text).toMatch(/^BTC\/USDT on binance: 97,234\.12 USDT/);
    expect(answers[0]!.payload['reply_parameters']).toMatchObject({ message_id: asked.message!.message_id });

    const basic = groupChat(-4242, 'Old style group', 'group');
    fake.groupSays(basic, bob, '/price SOL');
    expect((await fake.waitForSent(inChat(basic))).text).toMatch(/^SOL\/USDT on binance/);
  });

  it('answers a command posted in a channel and acknowledges button presses', async () => {
    const channel = channelChat(-1009876543210, 'Signals');
    fake.channelPost(channel, 'gm');
    fake.channelPost(channel, '/price BTC/USDT');
    const m = await fake.waitForSent(inChat(channel));
    expect(m.text).toMatch(/^BTC\/USDT on binance/);
    expect(fake.sent().filter(inChat(channel))).toHaveLength(1);

    const cb = fake.callback(privateChat(alice), alice, 'noop');
    await fake.waitForCall('answerCallbackQuery', (c) => c.payload['callback_query_id'] === cb.callback_query!.id);
  });

  it('keeps polling after getUpdates fails with a 500 or a cut connection', async () => {
    const erin = tgUser(1005, 'Erin');
    const chat = privateChat(erin);
    fake.failNext('getUpdates', 'network');
    fake.failNext('getUpdates', 500);
    // whichever polls come next fail (grammY waits 3 s after each), then the update is fetched
    const t0 = Date.now();
    fake.userSays(chat, erin, '/help');
    const m = await fake.waitForSent(inChat(chat), 15_000);
    console.log(`[telegram long polling] update answered ${m.at - t0} ms after it was queued, across two failed polls (grammY waits 3 s after each)`);
    fake.userSays(chat, erin, '/price BTC/USDT');
    await fake.waitForSent((s) => inChat(chat)(s) && s.text.startsWith('BTC/USDT'));
    const said = logLines.filter((l) => /Telegram getUpdates failed|Telegram reachable again/.test(l)).map((l) => JSON.parse(l) as { msg: string; err?: string });
    expect(said.map((l) => l.msg)).toEqual(['Telegram getUpdates failed; retrying every 3 s until it answers', 'Telegram reachable again; polling resumed']);
  });

  describe('send()', () => {
    const to = '555';

    it('delivers', async () => {
      expect(await bot.send(to, 'BTC/USDT crossed 100,000')).toEqual({ ok: true });
      expect(fake.sent().at(-1)).toMatchObject({ chat_id: to, text: 'BTC/USDT crossed 100,000' });
    });

    it('hands every 429 back to the outbox with its retry_after, so the shared limiter owns the wait', async () => {
      fake.failNext('sendMessage', 429, { retryAfter: 1 });
      expect(await bot.send(to, 'short wait')).toMatchObject({ ok: false, reason: 'rate_limited', retryAfterMs: 1_000 });

      fake.failNext('sendMessage', 429, { retryAfter: 30 });
      expect(await bot.send(to, 'long wait')).toMatchObject({ ok: false, reason: 'rate_limited', retryAfterMs: 30_000 });
    });

    it.each([
      [403, 'forbidden'],
      [400, 'not_found'],
      [500, 'transient'],
    ] as const)('maps %i to %s', async (code, reason) => {
      fake.failNext('sendMessage', code);
      const outcome = await bot.send(to, 'x');
      expect(outcome).toMatchObject({ ok: false, reason });
    });

    it('maps a 400 other than "chat not found" to permanent, and a cut connection to transient', async () => {
      fake.failNext('sendMessage', 400, { description: 'Bad Request: message is too long' });
      expect(await bot.send(to, 'x')).toMatchObject({ ok: false, reason: 'permanent', error: expect.stringContaining('message is too long') });
      fake.failNext('sendMessage', 'network');
      expect(await bot.send(to, 'x')).toMatchObject({ ok: false, reason: 'transient', error: expect.stringContaining("Network request for 'sendMessage' failed") });
    });
  });

  it('never writes the token to the log', () => {
    const secretPart = fake.token.split(':')[1]!;
    const all = logLines.join('');
    expect(all).toContain('Telegram getUpdates failed'); // the log did capture this front's lines
    expect(all).not.toContain(secretPart);
    expect(all).toContain('/bot<redacted>/getUpdates'); // node-fetch quoted the URL; the token was scrubbed
    expect(logLines.filter((l) => /"level":"(error|fatal)"/.test(l) && /"mod":"telegram"/.test(l))).toEqual([]);
  });
});

describe('Telegram front, webhook mode through the HTTP server', () => {
  let fake: FakeTelegram;
  let bot: TelegramFront;
  let http: HttpServer;
  let port: number;
  const SECRET = 'wh_secret-0123456789';

  beforeAll(async () => {
    fake = await startFakeTelegram();
    // In production the public URL is known up front; here the port is, only once the server listens.
    const routes = new Map<string, RouteHandler>();
    http = new HttpServer({ port: 0, host: '127.0.0.1', log, health: () => ({ status: 'ok', uptimeS: 0, db: { state: 'up', engine: null, error: null }, exchanges: {} }), prices: () => [], metrics: new Metrics(() => []), routes });
    port = await http.start();
    bot = front(fake, { webhookUrl: `http://127.0.0.1:${port}/telegram/webhook`, webhookSecret: SECRET });
    routes.set(bot.webhookPath!, bot.handleWebhook);
    await bot.start();
  });

  afterAll(async () => {
    await bot?.stop();
    await http?.stop();
    await fake?.close();
  });

  it('registers the webhook with its secret and never polls', () => {
    expect(fake.webhookSets).toEqual([
      { url: `http://127.0.0.1:${port}/telegram/webhook`, secret_token: SECRET, allowed_updates: ['message', 'channel_post', 'callback_query', 'my_chat_member'], drop_pending_updates: false },
    ]);
    expect(fake.callsOf('getUpdates')).toEqual([]);
    expect(fake.callsOf('setMyCommands')).toHaveLength(2);
  });

  it('processes an update carrying the right secret', async () => {
    const chat = privateChat(alice);
    const u = fake.userSays(chat, alice, '/price BTC/USDT');
    expect((await fake.waitForSent(inChat(chat))).text).toMatch(/^BTC\/USDT on binance: 97,234\.12/);
    await expect.poll(() => fake.deliveries.find((d) => d.update_id === u.update_id)?.status).toBe(200);
  });

  it('refuses a wrong or missing secret with 401 and processes nothing', async () => {
    const chat = privateChat(bob);
    expect((await fake.postWebhook(fake.messageUpdate(chat, bob, '/help'), { secret: 'wrong' })).status).toBe(401);
    expect((await fake.postWebhook(fake.messageUpdate(chat, bob, '/help'), { secret: null })).status).toBe(401);
    expect((await fake.postWebhook(fake.messageUpdate(chat, bob, '/help'), { secret: `${SECRET}x` })).status).toBe(401);
    // a request that does get through afterwards is answered: the refused ones were not queued somewhere
    expect((await fake.postWebhook(fake.messageUpdate(chat, bob, '/price ETH'))).status).toBe(200);
    await fake.waitForSent(inChat(chat));
    expect(fake.sent().filter(inChat(chat)).map((m) => m.text.split(' ')[0])).toEqual(['ETH/USDT']);
  });

  it('routes only POST to the webhook', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/telegram/webhook`);
    expect(res.status).toBe(404);
  });

  it('once stopped, answers 503 so Telegram delivers the update again later', async () => {
    const t0 = Date.now();
    await bot.stop();
    console.log(`[telegram stop] webhook mode: ${Date.now() - t0} ms`);
    const chat = privateChat(tgUser(1006, 'Frank'));
    expect((await fake.postWebhook(fake.messageUpdate(chat, tgUser(1006, 'Frank'), '/help'))).status).toBe(503);
    expect(fake.sent().filter(inChat(chat))).toEqual([]);
  });
});

describe('Telegram front, bounded stop', () => {
  let fake: FakeTelegram | undefined;
  afterEach(async () => {
    await fake?.close();
  });

  async function timedStop(bot: TelegramFront): Promise<number> {
    const t0 = Date.now();
    await bot.stop();
    return Date.now() - t0;
  }

  it('stops at once while polling', async () => {
    fake = await startFakeTelegram();
    const bot = front(fake, { stopTimeoutMs: 2_000 });
    await bot.start();
    await fake.waitForCall('getUpdates', (c) => Number(c.payload['timeout']) > 0);
    const ms = await timedStop(bot);
    console.log(`[telegram stop] while polling: ${ms} ms`);
    expect(ms).toBeLessThan(2_000 + 500);
    // the final getUpdates confirms what was handled, without waiting
    expect(fake.calls.at(-1)).toMatchObject({ method: 'getUpdates', payload: { limit: 1 } });
  });

  it('stops within its bound when Telegram went away first', async () => {
    fake = await startFakeTelegram();
    const bot = front(fake, { stopTimeoutMs: 2_000 });
    await bot.start();
    await fake.close();
    const ms = await timedStop(bot);
    console.log(`[telegram stop] after the Bot API closed: ${ms} ms`);
    expect(ms).toBeLessThan(2_000 + 500);
  });

  it('stops within its bound when Telegram accepts requests and never answers', async () => {
    fake = await startFakeTelegram();
    const bot = front(fake, { stopTimeoutMs: 2_000 });
    await bot.start();
    fake.setMode('blackhole');
    const ms = await timedStop(bot);
    console.log(`[telegram stop] with the Bot API hanging: ${ms} ms`);
    expect(ms).toBeLessThan(2_000 + 500);
  });

  it('does not hold up start() while Telegram is unreachable, and still stops at once', async () => {
    fake = await startFakeTelegram();
    fake.setMode('refuse');
    const bot = front(fake, { startTimeoutMs: 500, stopTimeoutMs: 2_000 });
    const t0 = Date.now();
    await bot.start();
    expect(Date.now() - t0).toBeLessThan(500 + 500);
    expect(bot.username).toBeUndefined();
    expect(await timedStop(bot)).toBeLessThan(2_000 + 500);
  });

  it('fails start() with a clear message when the token is rejected', async () => {
    fake = await startFakeTelegram();
    const bot = new TelegramFront({ token: '999:wrong', apiRoot: fake.apiRoot, services: makeServices(), log });
    await expect(bot.start()).rejects.toThrow(/TELEGRAM_BOT_TOKEN was rejected by Telegram \(401: Unauthorized\)/);
    await bot.stop();
  });
});

describe('Telegram front and the shared send budget', () => {
  it("waits for the chat's budget before replying, so replies and alerts together keep Telegram's limits", async () => {
    const fake = await startFakeTelegram();
    const limiter = new RateLimiter();
    const bot = front(fake, { limiter });
    try {
      await bot.start();
      const carol = tgUser(1003, 'Carol');
      const chat = privateChat(carol);
      // a 429 for this chat was just honoured: nothing may go there for the next 400 ms
      const until = Date.now() + 400;
      limiter.pause('telegram', String(chat.id), until);
      fake.userSays(chat, carol, '/help');
      const reply = await fake.waitForSent(inChat(chat));
      expect(reply.at).toBeGreaterThanOrEqual(until);
    } finally {
      await bot.stop();
      await fake.close();
    }
  });
});
