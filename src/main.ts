import fs from 'node:fs';
import { pino } from 'pino';
import { createApp } from './app.js';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { createLogger } from './log.js';

// A .env beside the process is the self-hoster's usual way to configure; real environment variables win.
if (fs.existsSync('.env')) process.loadEnvFile('.env');

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`MaxFlash cannot start: ${err.message}\nSee .env.example for every variable and its default.\n`);
    process.exit(78); // EX_CONFIG
  }
  throw err;
}

const terminalChat = config.consoleChat || (!config.telegram && !config.discord && process.stdin.isTTY === true);
// With the terminal chat on stdout, logs go to stderr so replies stay readable (and parseable in tests).
const log = createLogger(config.logLevel, pino.destination({ dest: terminalChat ? 2 : 1, sync: true }));

// ccxt can reject a promise nobody awaits when a socket drops mid-subscribe (ARCHITECTURE.md); such a
// rejection must be logged, never fatal.
process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled rejection (contained)'));

const app = createApp(config, { log });
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}

try {
  await app.start();
} catch (err) {
  // e.g. Telegram rejected the token: a configuration problem, said once, not a stack trace
  if (err instanceof ConfigError) {
    log.fatal({ problems: err.problems }, err.message);
    process.stderr.write(`MaxFlash cannot start: ${err.message}\n`);
    await app.stop().catch(() => undefined);
    process.exit(78);
  }
  throw err;
}
