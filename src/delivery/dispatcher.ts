import type { PrismaClient } from '../generated/prisma/client.js';
import type { ChatFront, DeliveryOutcome } from '../chat/front.js';
import { describeError } from '../errors.js';
import { sleep } from '../lib/abort.js';
import { nextDelay } from '../lib/backoff.js';
import type { Logger } from '../log.js';
import { claimDue, markFailed, markRetry, markSent, requeueInFlight, type ClaimedNotification } from './outbox.js';

export interface DispatcherOptions {
  prisma: PrismaClient;
  fronts: ReadonlyMap<ClaimedNotification['platform'], ChatFront>;
  log: Logger;
  now?: () => number;
  /** rows claimed per round */
  batch?: number;
  /** safety net: look for due rows this often even without a wake-up (retries come due on their own) */
  idleMs?: number;
  /** give up on a row after this many attempts (network trouble for ~a day at the 30 min cap) */
  maxAttempts?: number;
  /** told when a chat turned out unreachable, so its rules leave the engine too */
  onChatUnreachable?: (chatId: number) => void;
}

/**
 * Drains the outbox through the chat fronts. It owns every retry and wait: a front only reports what
 * happened (DeliveryOutcome), and the row records attempts and the next attempt time, so a restart
 * carries on where the last process stopped.
 */
export class Dispatcher {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly stopping = new AbortController();
  private wakeUp: (() => void) | undefined;
  private pendingWake = false;
  private loop: Promise<void> | undefined;
  private readonly missingFront = new Set<string>();

  constructor(private readonly opts: DispatcherOptions) {
    this.log = opts.log.child({ mod: 'dispatcher' });
    this.now = opts.now ?? Date.now;
  }

  async start(): Promise<void> {
    const requeued = await requeueInFlight(this.opts.prisma);
    if (requeued) this.log.warn({ requeued }, 'notifications left in flight by the last run will be sent again');
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('dispatcher stopping'));
    this.wakeUp?.();
    await this.loop;
  }

  /** New rows were committed: send them now rather than at the next idle check. */
  wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      this.pendingWake = false;
      let claimed: ClaimedNotification[] = [];
      try {
        claimed = await claimDue(this.opts.prisma, this.opts.batch ?? 50, new Date(this.now()));
        for (const row of claimed) {
          if (signal.aborted) {
            await markRetry(this.opts.prisma, row.id, new Date(this.now()), 'shutdown before sending');
            continue;
          }
          await this.deliver(row);
        }
        failures = 0;
      } catch (err) {
        const delayMs = nextDelay(failures++, { baseMs: 500, capMs: 30_000 });
        this.log.error({ err: describeError(err), delayMs }, 'outbox round failed; retrying');
        await sleep(delayMs, signal).catch(() => undefined);
        continue;
      }
      if (claimed.length > 0 || this.pendingWake) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.idleMs ?? 1_000);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  private async deliver(row: ClaimedNotification): Promise<void> {
    const db = this.opts.prisma;
    const front = this.opts.fronts.get(row.platform);
    if (!front) {
      if (!this.missingFront.has(row.platform)) {
        this.missingFront.add(row.platform);
        this.log.warn({ platform: row.platform }, `no ${row.platform} front is running; its messages wait in the outbox`);
      }
      await markRetry(db, row.id, new Date(this.now() + 60_000), `${row.platform} front not running`);
      return;
    }
    let outcome: DeliveryOutcome;
    try {
      outcome = await front.send(row.externalId, row.text);
    } catch (err) {
      outcome = { ok: false, reason: 'transient', error: describeError(err) }; // a front broke its promise not to throw
    }
    if (outcome.ok) {
      await markSent(db, row.id, new Date(this.now()));
      return;
    }
    const ctx = { id: row.id.toString(), platform: row.platform, chat: row.externalId, attempts: row.attempts, reason: outcome.reason, error: outcome.error };
    switch (outcome.reason) {
      case 'rate_limited':
        await markRetry(db, row.id, new Date(this.now() + outcome.retryAfterMs), outcome.error);
        return;
      case 'transient': {
        if (row.attempts >= (this.opts.maxAttempts ?? 60)) {
          this.log.error(ctx, 'giving up on a notification after repeated failures');
          await markFailed(db, row.id, outcome.error);
          return;
        }
        const delayMs = nextDelay(row.attempts - 1, { baseMs: 1_000, capMs: 30 * 60_000 });
        this.log.warn({ ...ctx, delayMs }, 'send failed; will retry');
        await markRetry(db, row.id, new Date(this.now() + delayMs), outcome.error);
        return;
      }
      case 'forbidden':
      case 'not_found':
        // The chat is gone for us (blocked, kicked, deleted): stop sending there and pause its rules.
        await db.$transaction([
          db.notification.update({ where: { id: row.id }, data: { status: 'failed', error: outcome.error } }),
          db.chat.update({ where: { id: row.chatId }, data: { active: false } }),
          db.alertRule.updateMany({ where: { chatId: row.chatId, state: 'active' }, data: { state: 'paused' } }),
        ]);
        this.log.warn(ctx, 'chat unreachable; marked inactive and its rules paused');
        this.opts.onChatUnreachable?.(row.chatId);
        return;
      case 'permanent':
        this.log.error(ctx, 'notification refused for good');
        await markFailed(db, row.id, outcome.error);
        return;
    }
  }
}
