import type { Readable, Writable } from 'node:stream';
import type { Config } from './config.js';
import { describeError } from './errors.js';
import { nextDelay } from './lib/backoff.js';
import { sleep, withTimeout } from './lib/abort.js';
import type { Logger } from './log.js';
import { openDatabase, type Database } from './db/client.js';
import { MarketHub } from './market/hub.js';
import { Poller } from './market/poller.js';
import { GapFiller } from './market/gapfill.js';
import { TopPairs } from './market/top-pairs.js';
import { createFeed } from './market/feeds/index.js';
import type { Feed } from './market/types.js';
import { ConsoleChat } from './chat/console.js';
import type { ChatFront } from './chat/front.js';
import type { CommandServices } from './chat/commands/index.js';
import { HttpServer, type DbHealth, type HealthReport, type RouteHandler } from './http/server.js';
import { TelegramFront } from './chat/telegram.js';
import { Metrics } from './http/metrics.js';
import { AlertService } from './alerts/service.js';
import { Dispatcher } from './delivery/dispatcher.js';
import { RateLimiter } from './delivery/limits.js';
import { listenForOutbox } from './delivery/listen.js';
import { postWebhook } from './delivery/webhook.js';

/** Everything the app touches from the outside world; tests replace any of it. */
export interface AppDeps {
  log: Logger;
  feeds?: Feed[];
  stdin?: Readable & { isTTY?: boolean };
  stdout?: Writable;
  now?: () => number;
}

export interface App {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly hub: MarketHub;
  /** resolves once the database is open and migrated (it opens in the background during start) */
  database(): Promise<Database>;
  /** the bound HTTP port once started (useful with HTTP_PORT=0 … tests use a random free port) */
  httpPort(): number | undefined;
}

/** Each shutdown step gets this long; a hung platform or database must not block SIGTERM. */
const STOP_STEP_MS = 5_000;

/**
 * The composition root: the only place that wires modules together. start() brings up the fast parts
 * (feeds, HTTP, terminal chat) at once and opens the database beside them, since a first PGlite start
 * runs initdb for seconds and /price does not need it.
 */
export function createApp(config: Config, deps: AppDeps): App {
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const feeds =
    deps.feeds ??
    config.exchanges.map((exchange) =>
      createFeed(exchange, { urls: config.exchangeUrls[exchange] ?? {}, staleMs: config.streamStaleMs, log, now }),
    );
  const hub = new MarketHub({ feeds, log, now });
  const poller = new Poller({ hub, feeds, cron: config.pollCron, log });
  const metrics = new Metrics(() => hub.status());
  hub.onTick((tick) => metrics.countTick(tick));

  const startedAt = now();
  const stopping = new AbortController();
  let db: Database | undefined;
  let dbState: DbHealth = 'starting';
  let dbError: string | null = null;
  let resolveDb!: (db: Database) => void;
  const dbReady = new Promise<Database>((resolve) => (resolveDb = resolve));
  let dbOpening: Promise<void> | undefined;

  const fronts: ChatFront[] = [];
  // Filled as fronts are created; the dispatcher reads it live, so a front that starts after the
  // database still gets its messages.
  const frontsByPlatform = new Map<ChatFront['platform'], ChatFront>();
  let dispatcher: Dispatcher | undefined;
  // one budget per platform for everything the process sends: alerts and command replies alike
  const limiter = new RateLimiter();
  const alertService = new AlertService({
    hub,
    log,
    now,
    maxRulesPerChat: config.maxRulesPerChat,
    onEnqueued: () => dispatcher?.wake(),
    handoff: { accepts: (count) => dispatcher?.accepts(count) ?? false, take: (rows) => dispatcher?.take(rows) },
  });
  const gapFiller = new GapFiller({
    hub,
    feeds,
    log,
    now,
    // only pairs that rules watch are worth the candle requests
    pairsNeedingGapfill: (exchange) => [...alertService.engine.pairs()].filter((p) => p.exchange === exchange).map((p) => p.pair),
  });
  const topPairs = new TopPairs({ hub, feeds, log, enabled: config.topPairs > 0, count: config.topPairs, quotes: [config.defaultQuote] });
  // `alerts` appears once the database is up; until then alert commands say they are starting.
  const services: CommandServices = { hub, config, now };
  let housekeeping: NodeJS.Timeout | undefined;
  const routes = new Map<string, RouteHandler>();
  const telegram = config.telegram ? new TelegramFront({ ...config.telegram, services, log, limiter }) : undefined;
  if (telegram?.webhookPath) routes.set(telegram.webhookPath, telegram.handleWebhook);
  let http: HttpServer | undefined;
  let boundPort: number | undefined;

  function health(): HealthReport {
    const exchanges: HealthReport['exchanges'] = {};
    for (const s of hub.status()) {
      const { state, connectedSince, lastMessageAt, reconnects, symbols, markets, lastError, nextRetryAt } = s;
      exchanges[s.exchange] = { state, connectedSince, lastMessageAt, reconnects, symbols, markets, lastError, nextRetryAt };
    }
    const anyDown = Object.values(exchanges).some((e) => e.state === 'down');
    return {
      status: dbState === 'starting' ? 'starting' : dbState === 'down' || anyDown ? 'degraded' : 'ok',
      uptimeS: Math.round((now() - startedAt) / 1000),
      db: { state: dbState, engine: db?.engine ?? null, error: dbError },
      exchanges,
    };
  }

  /** Keeps trying: a Postgres server that is still booting (compose) comes up a few seconds later. */
  async function openDatabaseWithRetry(): Promise<void> {
    for (let attempt = 0; !stopping.signal.aborted; attempt++) {
      try {
        const opened = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log });
        if (stopping.signal.aborted) {
          await opened.close();
          return;
        }
        db = opened;
        dbState = 'up';
        dbError = null;
        log.info({ mod: 'app', engine: opened.engine, sinceStartMs: now() - startedAt }, 'database up');
        resolveDb(opened);
        return;
      } catch (err) {
        dbState = 'down';
        dbError = describeError(err);
        const delayMs = nextDelay(attempt, { baseMs: 1_000, capMs: 30_000 });
        log.error({ mod: 'db', attempt: attempt + 1, delayMs, err: dbError }, `database unavailable, retrying in ${(delayMs / 1000).toFixed(1)} s`);
        await sleep(delayMs, stopping.signal).catch(() => undefined);
      }
    }
  }

  /** Rules into the engine, then the outbox drain; fronts may already be taking commands. */
  async function startAlerts(opened: Database): Promise<void> {
    await alertService.start(opened.prisma, opened.sql);
    services.alerts = alertService;
    dispatcher = new Dispatcher({
      prisma: opened.prisma,
      fronts: frontsByPlatform,
      log,
      now,
      limiter,
      postWebhook: (req) => postWebhook(req, { allowLocal: config.webhookAllowLocal }),
      // on a server, a NOTIFY after each commit wakes every instance, not just this one
      ...(opened.engine === 'postgres' && config.databaseUrl ? { listen: listenForOutbox(config.databaseUrl, { log }) } : {}),
      onChatMigrated: (moved) => alertService.chatMigrated(moved),
      onChatUnreachable: (chatId) => {
        alertService.pauseChat(chatId).catch((err: unknown) => log.warn({ mod: 'alerts', chatId, err: describeError(err) }, 'could not pause the rules of an unreachable chat'));
      },
    });
    await dispatcher.start();
    housekeeping = setInterval(() => {
      alertService.sweepExpired().catch((err: unknown) => log.warn({ mod: 'alerts', err: describeError(err) }, 'expiry sweep failed'));
    }, 60_000);
    housekeeping.unref();
  }

  return {
    hub,
    database: () => dbReady,
    httpPort: () => boundPort,

    async start() {
      dbOpening = openDatabaseWithRetry()
        .then(() => (db && !stopping.signal.aborted ? startAlerts(db) : undefined))
        .catch((err: unknown) => log.error({ mod: 'alerts', err: describeError(err) }, 'alerts could not start; alert commands stay unavailable'));
      gapFiller.start(); // before the feeds start, so it sees their first state changes
      hub.start();
      poller.start();
      topPairs.start();
      if (config.httpPort !== 0) {
        http = new HttpServer({ port: config.httpPort, log, health, prices: () => hub.all(), metrics, routes });
        boundPort = await http.start();
      }
      const stdin = deps.stdin ?? process.stdin;
      const wantsConsole = config.consoleChat || (!config.telegram && !config.discord && stdin.isTTY === true);
      if (wantsConsole) {
        fronts.push(new ConsoleChat({ input: stdin, output: deps.stdout ?? process.stdout, services, log, prompt: stdin.isTTY === true }));
      }
      // The HTTP server is already listening, so a webhook URL is live before setWebhook tells Telegram.
      if (telegram) fronts.push(telegram);
      if (config.discord) log.warn({ mod: 'app' }, 'DISCORD_TOKEN is set, but this version has no Discord front yet; it is ignored');
      for (const front of fronts) {
        frontsByPlatform.set(front.platform, front);
        await front.start();
      }
      log.info({ mod: 'app', exchanges: config.exchanges, fronts: fronts.map((f) => f.platform), ms: now() - startedAt }, 'MaxFlash started');
    },

    async stop() {
      stopping.abort(new Error('stopping'));
      const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
        try {
          await withTimeout(fn(), STOP_STEP_MS, what);
        } catch (err) {
          log.warn({ mod: 'app', err: describeError(err) }, `shutdown: ${what} did not stop cleanly`);
        }
      };
      for (const front of fronts) await step(`${front.platform} chat`, () => front.stop());
      if (housekeeping) clearInterval(housekeeping);
      if (dispatcher) await step('dispatcher', () => dispatcher!.stop());
      await step('alerts', () => alertService.stop());
      await step('top pairs', () => topPairs.stop());
      await step('gap-fill', () => gapFiller.stop());
      await step('poller', () => poller.stop());
      await step('market hub', () => hub.stop());
      if (http) await step('http server', () => http!.stop());
      if (dbOpening) await step('database open', () => dbOpening!);
      if (db) await step('database', () => db!.close());
      log.info({ mod: 'app' }, 'MaxFlash stopped');
    },
  };
}
