import pg from 'pg';
import { describeError } from '../errors.js';
import { sleep } from '../lib/abort.js';
import { nextDelay } from '../lib/backoff.js';
import type { Logger } from '../log.js';
import { OUTBOX_CHANNEL } from './outbox.js';

/**
 * The Dispatcher's `listen` option for a PostgreSQL server: one dedicated connection (LISTEN belongs to
 * a session, so a pooled one would not do) that calls onNotify whenever any process commits outbox
 * rows. A lost connection is re-opened with backoff, and onNotify is called once it is back, since
 * notifications sent meanwhile are gone. Resolves once listening; the returned function closes it.
 */
export function listenForOutbox(connectionString: string, opts: { log: Logger }): (onNotify: () => void) => Promise<() => Promise<void>> {
  return async (onNotify) => {
    const log = opts.log.child({ mod: 'outbox-listen' });
    const stopping = new AbortController();
    let client: pg.Client | undefined;

    const connect = async (): Promise<pg.Client> => {
      const c = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000, keepAlive: true });
      c.on('notification', (msg) => {
        if (msg.channel === OUTBOX_CHANNEL) onNotify();
      });
      // Unheard, a dropped connection's 'error' would crash the process; 'end' below starts the reconnect.
      c.on('error', (err) => log.warn({ err: describeError(err) }, 'outbox listener connection failed'));
      try {
        await c.connect();
        await c.query(`LISTEN ${OUTBOX_CHANNEL}`);
      } catch (err) {
        await c.end().catch(() => undefined);
        throw err;
      }
      c.once('end', () => {
        if (!stopping.signal.aborted) void reconnect();
      });
      return c;
    };

    const reconnect = async (): Promise<void> => {
      client = undefined;
      for (let attempt = 0; !stopping.signal.aborted; attempt++) {
        const delayMs = nextDelay(attempt, { baseMs: 500, capMs: 30_000 });
        log.warn({ delayMs }, 'outbox listener disconnected; reconnecting');
        await sleep(delayMs, stopping.signal).catch(() => undefined);
        if (stopping.signal.aborted) return;
        try {
          const c = await connect();
          if (stopping.signal.aborted) return void (await c.end().catch(() => undefined));
          client = c;
          log.info('outbox listener connected again');
          onNotify();
          return;
        } catch (err) {
          log.warn({ err: describeError(err) }, 'outbox listener could not reconnect');
        }
      }
    };

    client = await connect();
    return async () => {
      stopping.abort();
      await client?.end().catch(() => undefined);
      client = undefined;
    };
  };
}
