import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('starts with no variables at all, on documented defaults', () => {
    const c = loadConfig({});
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.telegram).toBeUndefined();
    expect(c.discord).toBeUndefined();
    expect(c.exchanges).toEqual(['binance']);
    expect(c.pollCron).toBe('*/30 * * * * *');
    expect(c.streamStaleMs).toBe(15_000);
    expect(c.defaultQuote).toBe('USDT');
    expect(c.maxRulesPerChat).toBe(100);
    expect(c.topPairs).toBe(20);
    expect(c.httpPort).toBe(8080);
    expect(c.logLevel).toBe('info');
    expect(c.consoleChat).toBe(false);
    expect(c.exchangeUrls.binance).toEqual({});
  });

  it('treats empty strings like unset, as .env files often leave them', () => {
    const c = loadConfig({ DATABASE_URL: '', TELEGRAM_BOT_TOKEN: '  ', HTTP_PORT: '', EXCHANGES: '' });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.telegram).toBeUndefined();
    expect(c.httpPort).toBe(8080);
    expect(c.exchanges).toEqual(['binance']);
  });

  it('reads every variable of the contract', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/maxflash',
      DATA_DIR: '/tmp/mf',
      TELEGRAM_BOT_TOKEN: '123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi',
      TELEGRAM_API_ROOT: 'http://127.0.0.1:9000/',
      TELEGRAM_WEBHOOK_URL: 'https://bot.example.org/telegram',
      TELEGRAM_WEBHOOK_SECRET: 's3cret_-x',
      DISCORD_TOKEN: 'discord-token',
      DISCORD_APPLICATION_ID: '123456789012345678',
      DISCORD_API_ROOT: 'http://127.0.0.1:9001/api',
      EXCHANGES: ' Binance, bybit ,okx ',
      BINANCE_WS_URL: 'ws://127.0.0.1:1/stream',
      BINANCE_REST_URL: 'http://127.0.0.1:1',
      BYBIT_WS_URL: 'ws://127.0.0.1:2/v5/public/spot',
      OKX_REST_URL: 'http://127.0.0.1:3',
      POLL_CRON: '*/10 * * * * *',
      STREAM_STALE_MS: '5000',
      DEFAULT_QUOTE: 'usdc',
      MAX_RULES_PER_CHAT: '20',
      TOP_PAIRS: '5',
      HTTP_PORT: '9090',
      LOG_LEVEL: 'debug',
      CONSOLE_CHAT: '1',
    });
    expect(c.telegram).toEqual({
      token: '123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi',
      apiRoot: 'http://127.0.0.1:9000',
      webhookUrl: 'https://bot.example.org/telegram',
      webhookSecret: 's3cret_-x',
    });
    expect(c.discord).toEqual({ token: 'discord-token', applicationId: '123456789012345678', apiRoot: 'http://127.0.0.1:9001/api' });
    expect(c.exchanges).toEqual(['binance', 'bybit', 'okx']);
    expect(c.exchangeUrls).toEqual({
      binance: { ws: 'ws://127.0.0.1:1/stream', rest: 'http://127.0.0.1:1' },
      bybit: { ws: 'ws://127.0.0.1:2/v5/public/spot' },
      okx: { rest: 'http://127.0.0.1:3' },
    });
    expect(c.defaultQuote).toBe('USDC');
    expect(c.streamStaleMs).toBe(5000);
    expect(c.maxRulesPerChat).toBe(20);
    expect(c.topPairs).toBe(5);
    expect(c.httpPort).toBe(9090);
    expect(c.consoleChat).toBe(true);
  });

  it('reports every bad variable in one error, naming each', () => {
    const problems = problemsOf({
      DATABASE_URL: 'mysql://x',
      HTTP_PORT: 'eighty',
      STREAM_STALE_MS: '10',
      POLL_CRON: 'every minute',
      LOG_LEVEL: 'loud',
      EXCHANGES: 'binance,binance',
      BINANCE_WS_URL: 'http://127.0.0.1/stream',
      CONSOLE_CHAT: 'maybe',
    });
    const text = problems.join('\n');
    for (const name of ['DATABASE_URL', 'HTTP_PORT', 'STREAM_STALE_MS', 'POLL_CRON', 'LOG_LEVEL', 'EXCHANGES', 'BINANCE_WS_URL', 'CONSOLE_CHAT']) {
      expect(text).toContain(name);
    }
    expect(problems).toHaveLength(8);
  });

  it('never echoes a secret value in its error', () => {
    const problems = problemsOf({ TELEGRAM_WEBHOOK_URL: 'https://x.example/hook', DATABASE_URL: 'postgres://u:hunter2@:notaport' });
    expect(problems.join('\n')).not.toContain('hunter2');
    expect(problems.join('\n')).toContain('TELEGRAM_BOT_TOKEN');
  });

  it('requires the pieces that only make sense together', () => {
    expect(problemsOf({ DISCORD_TOKEN: 'x' }).join()).toContain('DISCORD_APPLICATION_ID');
    expect(problemsOf({ TELEGRAM_BOT_TOKEN: '1:x', TELEGRAM_WEBHOOK_URL: 'https://a.example/h' }).join()).toContain('TELEGRAM_WEBHOOK_SECRET');
    expect(problemsOf({ HTTP_PORT: '70000' }).join()).toContain('at most 65535');
    expect(
      problemsOf({ TELEGRAM_BOT_TOKEN: '1:x', TELEGRAM_WEBHOOK_URL: 'https://a.example/h', TELEGRAM_WEBHOOK_SECRET: 's', HTTP_PORT: '0' }).join(),
    ).toContain('HTTP_PORT is 0 (HTTP off) but webhook mode needs the HTTP server');
  });

  it('returns a frozen config', () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.exchanges)).toBe(true);
  });
});
