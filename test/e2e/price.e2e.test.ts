import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeBinance, type FakeBinance } from '../fakes/binance.js';
import { freePort, spawnBot, waitForHttp, type BotProcess } from '../helpers/spawn-bot.js';
import { createPostgresDatabase } from '../helpers/db.js';

/**
 * The walking skeleton end to end: the built bot as a child process (as `npm start` runs it), the real
 * ccxt client talking to the fake Binance, a question typed into the terminal chat, the answer read back.
 * Timings are printed for the README, never asserted.
 */

interface Engine {
  name: 'pglite' | 'postgres';
  env(): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>;
}

const engines: Engine[] = [
  {
    name: 'pglite',
    async env() {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'maxflash-e2e-'));
      return { env: { DATA_DIR: dir }, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
    },
  },
];
const adminUrl = process.env.TEST_DATABASE_URL;
if (adminUrl) {
  engines.push({
    name: 'postgres',
    async env() {
      const db = await createPostgresDatabase(adminUrl);
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'maxflash-e2e-'));
      return {
        env: { DATABASE_URL: db.url, DATA_DIR: dir },
        cleanup: async () => {
          await db.drop();
          await fs.rm(dir, { recursive: true, force: true });
        },
      };
    },
  });
}

describe.each(engines)('bot on $name, terminal chat against the fake Binance', (engine) => {
  let fake: FakeBinance;
  let bot: BotProcess;
  let port: number;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    // Binance pushes @ticker once a second; so does the fake here.
    fake = await startFakeBinance({ emitIntervalMs: 1_000 });
    fake.setPrice('BTCUSDT', '97234.12');
    port = await freePort();
    const e = await engine.env();
    cleanup = e.cleanup;
    bot = spawnBot({
      ...e.env,
      CONSOLE_CHAT: '1',
      HTTP_PORT: String(port),
      BINANCE_WS_URL: fake.wsUrl,
      BINANCE_REST_URL: fake.restUrl,
      LOG_LEVEL: 'info',
    });
  });

  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
    await cleanup?.();
  });

  it('serves /healthz and answers /price from the stream within seconds of start', async () => {
    const health = await waitForHttp(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ exchanges: { binance: { state: expect.stringMatching(/connecting|streaming|polling|down/) } } });

    bot.send('/price BTC/USDT');
    const answer = await bot.waitFor('stdout', /^BTC\/USDT on binance: /);
    expect(answer.line).toMatch(/^BTC\/USDT on binance: 97,234\.12 USDT  [▲▼] [+−±]\d+\.\d\d% 24h$/);

    // The price changes on the exchange; an answer soon comes from the live stream. (On a loaded machine
    // the stream may drop and reconnect meanwhile, and the poll at the drop answer first: that is
    // allowed, as long as the stream then carries the price.)
    fake.setPrice('BTCUSDT', '98000.5');
    const answers = () => bot.stdout.flatMap((l, i) => (l.startsWith('BTC/USDT on binance: ') ? [{ price: l, source: bot.stdout[i + 1] ?? '' }] : []));
    const sources: string[] = [];
    await pollUntil(async () => {
      const before = answers().length;
      bot.send('/price btcusdt');
      const answer = await pollUntil(async () => answers()[before] ?? null, 1_000).catch(() => null);
      if (!answer || !answer.price.startsWith('BTC/USDT on binance: 98,000.50')) return null;
      sources.push(answer.source);
      return /live stream/.test(answer.source) ? answer : null;
    }, 10_000);
    expect(sources.at(-1)).toMatch(/live stream/);

    const dbLine = await bot.waitFor('stderr', /"msg":"database up"/, 20_000);
    const dbLog = JSON.parse(dbLine.line) as { engine: string; sinceStartMs: number };
    expect(dbLog.engine).toBe(engine.name);
    const health2 = await waitForHttp(`http://127.0.0.1:${port}/healthz`);
    expect(health2.body).toMatchObject({ db: { state: 'up', engine: engine.name } });
    expect((await waitForHttp(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    const live = await bot.waitFor('stderr', /"msg":"stream live"/);
    // Figures for the README; the bot's own log says how long the database took from its start.
    console.log(
      `[startup ${engine.name}] spawn→healthz ${health.at - bot.startedAt} ms, spawn→first /price answer ${answer.at - bot.startedAt} ms, spawn→first streamed tick ${live.at - bot.startedAt} ms, app start→db up ${dbLog.sinceStartMs} ms`,
    );
  });

  it('answers bad input with a friendly one-liner and an example', async () => {
    bot.send('/price');
    await bot.waitFor('stdout', /^Which pair\? Add one after \/price\.$/);
    bot.send('/price NOPE/USDT');
    await bot.waitFor('stdout', /^NOPE\/USDT is not traded on binance\. Did you mean /);
    bot.send('/help');
    await bot.waitFor('stdout', /^\/price <pair> \[on <exchange>\] — /);
  });

  it('takes an alert in the terminal chat and delivers it when the stream crosses the level', async () => {
    // until the rules are loaded, /alert answers that alerts are starting (checked below by the wording)
    await bot.waitFor('stderr', /"msg":"alert rules loaded"/, 30_000);
    bot.send('/alert BTC/USDT > 99000 -- e2e');
    const created = await bot.waitFor('stdout', /^✅ Alert #(\d+): BTC\/USDT above 99,000 \(binance\)$/);
    const id = /#(\d+)/.exec(created.line)![1];
    fake.setPrice('BTCUSDT', '99500.25');
    await bot.waitFor('stdout', /^🔔 BTC\/USDT above 99,000$/);
    await bot.waitFor('stdout', /^BTC\/USDT is 99,500.25 USDT on binance$/);
    await bot.waitFor('stdout', new RegExp(`· alert #${id}$`));
    bot.send('/alerts');
    await bot.waitFor('stdout', /^No active alerts in this chat\./);
  });

  it('stops cleanly on SIGTERM', async () => {
    const code = await bot.stop();
    expect(code).toBe(0);
    expect(bot.stderr.join('\n')).not.toMatch(/"level":"(error|fatal)"/);
  });
});

describe('bot with no network and no stdin', () => {
  it('starts, keeps serving health, and logs one line per retry with the next delay', async () => {
    const port = await freePort();
    const dead = await freePort(); // nothing listens here: every connection is refused
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'maxflash-e2e-'));
    const bot = spawnBot(
      {
        DATA_DIR: dir,
        CONSOLE_CHAT: '1',
        HTTP_PORT: String(port),
        BINANCE_WS_URL: `ws://127.0.0.1:${dead}/stream`,
        BINANCE_REST_URL: `http://127.0.0.1:${dead}/api/v3`,
      },
      { stdin: 'closed' },
    );
    try {
      // With the terminal chat on, logs go to stderr so stdout carries only chat replies.
      const retry = await bot.waitFor('stderr', /retrying in \d+\.\d s/);
      expect(JSON.parse(retry.line)).toMatchObject({ level: 'warn', exchange: 'binance', delayMs: expect.any(Number) });
      const health = await waitForHttp(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      await bot.waitFor('stderr', /terminal chat input ended/);
      // PGlite's first initdb runs in WASM on the main thread; stopping mid-way would wait it out anyway
      await bot.waitFor('stderr', /"msg":"database up"/, 30_000);
      expect(bot.child.exitCode).toBeNull();
    } finally {
      expect(await bot.stop()).toBe(0);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

async function pollUntil<T>(fn: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
