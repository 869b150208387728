import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import type { HubStatus } from '../market/hub.js';
import type { PriceTick } from '../market/types.js';
import type { Metrics } from './metrics.js';

export type DbHealth = 'starting' | 'up' | 'down';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'starting';
  uptimeS: number;
  db: { state: DbHealth; engine: 'pglite' | 'postgres' | null; error: string | null };
  exchanges: Record<string, Pick<HubStatus, 'state' | 'connectedSince' | 'lastMessageAt' | 'reconnects' | 'symbols' | 'markets' | 'lastError' | 'nextRetryAt'>>;
}

/** A handler another module owns (the Telegram webhook); it writes the whole response itself. */
export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

export interface HttpServerOptions {
  port: number;
  host?: string;
  log: Logger;
  health: () => HealthReport;
  prices: () => PriceTick[];
  metrics: Metrics;
  /** extra POST endpoints by exact path, e.g. the Telegram webhook; the server only routes to them */
  routes?: ReadonlyMap<string, RouteHandler>;
}

/**
 * Health, readiness, metrics and a JSON price list. /healthz is liveness: 200 while the process serves,
 * with the details in the body (a dead exchange is not a reason to restart the bot). /readyz is 503
 * until the database is up.
 */
export class HttpServer {
  private server: http.Server | undefined;

  constructor(private readonly opts: HttpServerOptions) {}

  async start(): Promise<number> {
    const server = http.createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        this.opts.log.error({ err, url: req.url }, 'http handler failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.end();
      });
    });
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    this.opts.log.info({ mod: 'http', port }, `health and metrics on http://127.0.0.1:${port}/healthz`);
    return port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const extra = req.method === 'POST' ? this.opts.routes?.get(path) : undefined;
    if (extra) return extra(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    switch (path) {
      case '/healthz':
        return send(res, 200, this.opts.health());
      case '/readyz': {
        const health = this.opts.health();
        return send(res, health.db.state === 'up' ? 200 : 503, { ready: health.db.state === 'up', db: health.db });
      }
      case '/metrics': {
        const body = await this.opts.metrics.render();
        res.writeHead(200, { 'content-type': this.opts.metrics.registry.contentType });
        res.end(body);
        return;
      }
      case '/api/prices':
        return send(res, 200, { prices: this.opts.prices() });
      default:
        return send(res, 404, { error: 'not found', try: ['/healthz', '/readyz', '/metrics', '/api/prices'] });
    }
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
