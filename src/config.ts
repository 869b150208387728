import path from 'node:path';
import cron from 'node-cron';
import { z } from 'zod';
import { ConfigError } from './errors.js';

/** Exchanges with a tested venue file; any other ccxt pro id goes through the generic feed (best effort). */
export const KNOWN_EXCHANGES = ['binance', 'bybit', 'okx'] as const;

const optionalString = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

const optionalUrl = (protocols: readonly string[]) =>
  optionalString.refine(
    (s) => s === undefined || (URL.canParse(s) && protocols.includes(new URL(s).protocol)),
    { message: `must be a ${protocols.map((p) => p.replace(':', '://')).join(' or ')} URL` },
  );

const intFrom = (fallback: number, min: number, max: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === '') return fallback;
      if (!/^\d+$/.test(s)) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number, got "${s}"` });
        return z.NEVER;
      }
      return Number(s);
    })
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const flag = z
  .string()
  .trim()
  .optional()
  .transform((s, ctx) => {
    if (s === undefined || s === '') return false;
    if (/^(1|true|yes|on)$/i.test(s)) return true;
    if (/^(0|false|no|off)$/i.test(s)) return false;
    ctx.addIssue({ code: 'custom', message: `must be 1/0, true/false, yes/no or on/off, got "${s}"` });
    return z.NEVER;
  });

const EnvSchema = z
  .object({
    DATABASE_URL: optionalUrl(['postgres:', 'postgresql:']),
    DATA_DIR: optionalString.transform((s) => path.resolve(s ?? './data')),
    TELEGRAM_BOT_TOKEN: optionalString,
    TELEGRAM_API_ROOT: optionalUrl(['http:', 'https:']).transform((s) => (s ?? 'https://api.telegram.org').replace(/\/+$/, '')),
    TELEGRAM_WEBHOOK_URL: optionalUrl(['https:', 'http:']),
    TELEGRAM_WEBHOOK_SECRET: optionalString.refine((s) => s === undefined || /^[A-Za-z0-9_-]{1,256}$/.test(s), {
      message: 'may only contain A-Z, a-z, 0-9, _ and - (1-256 characters), as Telegram requires',
    }),
    DISCORD_TOKEN: optionalString,
    DISCORD_APPLICATION_ID: optionalString.refine((s) => s === undefined || /^\d{5,25}$/.test(s), {
      message: 'must be the numeric application id from the Discord developer portal',
    }),
    DISCORD_API_ROOT: optionalUrl(['http:', 'https:']).transform((s) => (s ?? 'https://discord.com/api').replace(/\/+$/, '')),
    EXCHANGES: optionalString
      .transform((s) =>
        (s ?? 'binance')
          .split(',')
          .map((e) => e.trim().toLowerCase())
          .filter(Boolean),
      )
      .pipe(
        z
          .array(z.string().regex(/^[a-z0-9]+$/, 'exchange ids are lowercase ccxt ids such as binance, bybit, okx'))
          .min(1, 'name at least one exchange, e.g. EXCHANGES=binance')
          .refine((ids) => new Set(ids).size === ids.length, { message: 'lists an exchange twice' }),
      ),
    BINANCE_WS_URL: optionalUrl(['ws:', 'wss:']),
    BINANCE_REST_URL: optionalUrl(['http:', 'https:']),
    BYBIT_WS_URL: optionalUrl(['ws:', 'wss:']),
    BYBIT_REST_URL: optionalUrl(['http:', 'https:']),
    OKX_WS_URL: optionalUrl(['ws:', 'wss:']),
    OKX_REST_URL: optionalUrl(['http:', 'https:']),
    POLL_CRON: optionalString
      .transform((s) => s ?? '*/30 * * * * *')
      .refine((s) => cron.validate(s), { message: 'is not a valid cron expression (e.g. "*/30 * * * * *")' }),
    STREAM_STALE_MS: intFrom(15_000, 1_000, 3_600_000),
    DEFAULT_QUOTE: optionalString
      .transform((s) => (s ?? 'USDT').toUpperCase())
      .pipe(z.string().regex(/^[A-Z0-9]{2,10}$/, 'must be a currency code such as USDT')),
    MAX_RULES_PER_CHAT: intFrom(100, 1, 100_000),
    TOP_PAIRS: intFrom(20, 0, 200),
    HTTP_PORT: intFrom(8080, 0, 65_535),
    LOG_LEVEL: optionalString
      .transform((s) => s ?? 'info')
      .pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
    CONSOLE_CHAT: flag,
    WEBHOOK_ALLOW_LOCAL: flag,
  })
  .superRefine((env, ctx) => {
    if (env.TELEGRAM_WEBHOOK_URL && !env.TELEGRAM_BOT_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['TELEGRAM_WEBHOOK_URL'], message: 'is set but TELEGRAM_BOT_TOKEN is not' });
    }
    if (env.TELEGRAM_WEBHOOK_URL && !env.TELEGRAM_WEBHOOK_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['TELEGRAM_WEBHOOK_SECRET'], message: 'is required in webhook mode, so forged updates are refused' });
    }
    if (env.TELEGRAM_WEBHOOK_URL && env.HTTP_PORT === 0) {
      ctx.addIssue({ code: 'custom', path: ['HTTP_PORT'], message: 'is 0 (HTTP off) but webhook mode needs the HTTP server to receive updates' });
    }
    if (env.DISCORD_TOKEN && !env.DISCORD_APPLICATION_ID) {
      ctx.addIssue({ code: 'custom', path: ['DISCORD_APPLICATION_ID'], message: 'is required when DISCORD_TOKEN is set' });
    }
  });

type Env = z.output<typeof EnvSchema>;

export interface ExchangeUrls {
  ws?: string;
  rest?: string;
}

export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  telegram: { token: string; apiRoot: string; webhookUrl?: string; webhookSecret?: string } | undefined;
  discord: { token: string; applicationId: string; apiRoot: string } | undefined;
  exchanges: readonly string[];
  exchangeUrls: Readonly<Record<string, ExchangeUrls>>;
  pollCron: string;
  streamStaleMs: number;
  defaultQuote: string;
  maxRulesPerChat: number;
  /** pairs per exchange kept streaming from start-up, by quote volume (0 → none) */
  topPairs: number;
  httpPort: number;
  logLevel: Env['LOG_LEVEL'];
  /** run the terminal chat even when stdin is not a TTY */
  consoleChat: boolean;
  /** let /webhook point at this machine or a private network (self-hosted receivers, tests) */
  webhookAllowLocal: boolean;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Reads the environment once. Every bad variable is reported in one ConfigError, so an operator fixes the
 * whole .env in one go instead of one restart per typo. Values are never echoed (they may be secrets).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'} ${i.message}`));
  }
  const e = parsed.data;
  const urls: Record<string, ExchangeUrls> = {};
  const pairs = [
    ['binance', e.BINANCE_WS_URL, e.BINANCE_REST_URL],
    ['bybit', e.BYBIT_WS_URL, e.BYBIT_REST_URL],
    ['okx', e.OKX_WS_URL, e.OKX_REST_URL],
  ] as const;
  for (const [id, ws, rest] of pairs) {
    urls[id] = { ...(ws ? { ws } : {}), ...(rest ? { rest } : {}) };
  }
  return deepFreeze<Config>({
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    telegram: e.TELEGRAM_BOT_TOKEN
      ? {
          token: e.TELEGRAM_BOT_TOKEN,
          apiRoot: e.TELEGRAM_API_ROOT,
          ...(e.TELEGRAM_WEBHOOK_URL ? { webhookUrl: e.TELEGRAM_WEBHOOK_URL } : {}),
          ...(e.TELEGRAM_WEBHOOK_SECRET ? { webhookSecret: e.TELEGRAM_WEBHOOK_SECRET } : {}),
        }
      : undefined,
    discord:
      e.DISCORD_TOKEN && e.DISCORD_APPLICATION_ID
        ? { token: e.DISCORD_TOKEN, applicationId: e.DISCORD_APPLICATION_ID, apiRoot: e.DISCORD_API_ROOT }
        : undefined,
    exchanges: e.EXCHANGES,
    exchangeUrls: urls,
    pollCron: e.POLL_CRON,
    streamStaleMs: e.STREAM_STALE_MS,
    defaultQuote: e.DEFAULT_QUOTE,
    maxRulesPerChat: e.MAX_RULES_PER_CHAT,
    topPairs: e.TOP_PAIRS,
    httpPort: e.HTTP_PORT,
    logLevel: e.LOG_LEVEL,
    consoleChat: e.CONSOLE_CHAT,
    webhookAllowLocal: e.WEBHOOK_ALLOW_LOCAL,
  });
}
