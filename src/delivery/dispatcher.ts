import type { PrismaClient } from '../generated/prisma/client.js';
import type { ChatFront, DeliveryOutcome, SendOptions } from '../chat/front.js';
import { alertButtons } from '../chat/commands/buttons.js';
import { chatLanguages, migrateChat, type MigratedChat } from '../db/chats.js';
import { describeError } from '../errors.js';
import { sleep as realSleep } from '../lib/abort.js';
import { nextDelay } from '../lib/backoff.js';
import type { Logger } from '../log.js';
import { RateLimiter, type ChatKind, type Platform } from './limits.js';
import { AlertPayload } from './notification.js';
import { postWebhook, webhookGivesUp, webhookOffNotice, type WebhookOutcome, type WebhookRequest } from './webhook.js';
import { claimDue, enqueue, markFailed, markRetry, markSent, nextDueAt, release, requeueInFlight, type ClaimedNotification } from './outbox.js';

export interface DispatcherOptions {
  prisma: PrismaClient;
  fronts: ReadonlyMap<Platform, ChatFront>;
  log: Logger;
  now?: () => number;
  /** every wait of the dispatcher goes through this (tests pass one that moves a fake clock) */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** the send limits; pass the instance the fronts use for command replies, so both draw from one budget */
  limiter?: RateLimiter;
  /**
   * a claim takes the chats of this many oldest due rows, with all their due rows (see claimDue); default
   * 20: claims top up as the workers go, so a larger one would only hold more rows in flight while they
   * wait their turn for a send token (and leave more to requeue after a crash)
   */
  batch?: number;
  /** chats sent to at once (sends to one chat stay in order, one after another) */
  concurrency?: number;
  /** safety net: look for due rows this often even without a wake-up */
  idleMs?: number;
  /** give up on a row after this many attempts (network trouble for ~a day at the 30 min cap) */
  maxAttempts?: number;
  /** told when a chat turned out unreachable, so its rules leave the engine too */
  onChatUnreachable?: (chatId: number) => void;
  /** told when a send found the chat under a new id and the dispatcher moved it (in-memory follow-up only) */
  onChatMigrated?: (moved: MigratedChat) => void;
  /**
   * Subscribes to new-row notifications from other processes (Postgres LISTEN, see listen.ts); resolves
   * once listening, to a function that unsubscribes. Rows enqueued in this process wake it via wake().
   */
  listen?: (onNotify: () => void) => Promise<() => Promise<void>>;
  /** posts one webhook delivery (tests may stub it; default postWebhook) */
  postWebhook?: (req: WebhookRequest) => Promise<WebhookOutcome>;
  /**
   * a platform wait up to this long is waited out holding the claimed rows (default 2 s): the Telegram
   * spacing makes one every ~34 ms, and giving rows back for each would cost two writes and a claim per send
   */
  holdMs?: number;
}

/** rows handed over in-process (see take()) beyond this many wait for a claim instead */
const MAX_HANDED = 50;

/** Buttons act on one rule: only a message that is one alert's whole text (or its last part) carries them. */
function buttonsFor(msg: OutgoingMessage<ClaimedNotification>): SendOptions | undefined {
  const [row] = msg.completes;
  if (!row || msg.rows.length !== 1 || msg.completes.length !== 1) return undefined;
  const payload = AlertPayload.safeParse(row.payload);
  return payload.success ? { buttons: alertButtons(payload.data) } : undefined;
}

/** One message to send and the rows it carries; `completes` are the rows whose last part it is. */
export interface OutgoingMessage<T> {
  text: string;
  rows: T[];
  completes: T[];
  /** a row this message carries only some parts of: how many of its parts are out once it is accepted */
  partial?: { row: T; parts: number };
}

/**
 * Packs the texts of one chat's due rows, in order, into as few messages as fit `maxChars`, a blank line
 * between them. A text longer than a message is split at paragraph, line or word breaks; its row
 * counts as sent only with its last part. `partsSent` skips the parts of a row that already went out
 * before the chat had to wait, so a long text makes progress however its parts fall on the limits.
 */
export function coalesce<T extends { text: string }>(rows: readonly T[], maxChars: number, partsSent: (row: T) => number = () => 0): OutgoingMessage<T>[] {
  const messages: OutgoingMessage<T>[] = [];
  let current: OutgoingMessage<T> | undefined;
  for (const row of rows) {
    const parts = splitText(row.text, maxChars);
    for (let i = Math.min(partsSent(row), parts.length - 1); i < parts.length; i++) {
      const part = parts[i]!;
      if (current && current.text.length + 2 + part.length <= maxChars) current.text += `\n\n${part}`;
      else messages.push((current = { text: part, rows: [], completes: [] }));
      if (current.rows[current.rows.length - 1] !== row) current.rows.push(row);
      if (i === parts.length - 1) {
        current.completes.push(row);
        delete current.partial;
      } else current.partial = { row, parts: i + 1 };
    }
  }
  return messages;
}

function splitText(text: string, maxChars: number): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars);
    // Prefer a break in the later half, so no part is needlessly short.
    const floor = Math.floor(maxChars / 2);
    let cut = [window.lastIndexOf('\n\n'), window.lastIndexOf('\n'), window.lastIndexOf(' ')].find((i) => i >= floor) ?? maxChars;
    // never between the two halves of a surrogate pair (an emoji would turn into two broken characters)
    if (cut === maxChars && isHighSurrogate(rest.charCodeAt(cut - 1))) cut--;
    parts.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).replace(/^\s+/, '');
  }
  if (rest.length > 0 || parts.length === 0) parts.push(rest);
  return parts;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Drains the outbox through the chat fronts. It owns every retry and wait: a front only reports what
 * happened (DeliveryOutcome), and the row records attempts and the next attempt time, so a restart
 * carries on where the last process stopped. Every send first takes a token from the limiter; a chat
 * that must wait has its rows put back with the time it may send again. A platform whose next token is
 * at most holdMs away (the Telegram spacing: ~34 ms; a command reply holding the next token: one more
 * plus REPLY_GRACE_MS at most, see limits.ts) is waited for holding the claimed rows; one further off (a
 * 429 pause) is left out of the claims, so waiting never spins and never holds rows for long.
 */
export class Dispatcher {
  readonly limiter: RateLimiter;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly stopping = new AbortController();
  private idleWait: AbortController | undefined;
  private pendingWake = false;
  private loop: Promise<void> | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private readonly missingFront = new Set<string>();
  /** rows whose outcome could not be written (database trouble): put back on the next round */
  private stranded: bigint[] = [];
  /** parts already sent of texts too long for one message, by row, while their rows wait for the rest */
  private readonly partsSent = new Map<bigint, number>();
  /** rows written already claimed by this process (take()), not yet picked up by a round */
  private handed: ClaimedNotification[] = [];
  /** per platform, the tail of the line of workers waiting for a send token (see platformToken) */
  private readonly tokenLines = new Map<Platform, Promise<void>>();
  private running = false;

  constructor(private readonly opts: DispatcherOptions) {
    this.log = opts.log.child({ mod: 'dispatcher' });
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
    this.limiter = opts.limiter ?? new RateLimiter();
  }

  async start(): Promise<void> {
    const requeued = await requeueInFlight(this.opts.prisma);
    if (requeued) this.log.warn({ requeued }, 'notifications left in flight by the last run will be sent again');
    if (this.opts.listen) {
      try {
        this.unlisten = await this.opts.listen(() => this.wake());
      } catch (err) {
        this.log.warn({ err: describeError(err), idleMs: this.idleMs() }, 'cannot listen for new notifications; rows from other processes are picked up by the idle check');
      }
    }
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('dispatcher stopping'));
    this.idleWait?.abort();
    await this.loop;
    this.running = false;
    await this.giveBack(this.handed.splice(0));
    await this.unlisten?.().catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'could not stop listening'));
  }

  /** New rows were committed: send them now rather than at the next idle check. */
  wake(): void {
    this.pendingWake = true;
    this.idleWait?.abort();
  }

  /**
   * Whether `count` new rows may be written already claimed for this process and handed over with take():
   * the writer then saves the claim's round trip on the way from a tick to the platform. A burst is left
   * to the claims (its rows would only wait here), and so is everything once stopping.
   */
  accepts(count: number): boolean {
    return this.running && !this.stopping.signal.aborted && this.handed.length + count <= MAX_HANDED;
  }

  /**
   * Rows the caller wrote with status 'sending' for this process (after accepts() said yes), committed.
   * They are delivered like claimed rows; once stopping they are put back to pending instead (and a crash
   * leaves them to the start-up requeue, as any claimed row).
   */
  take(rows: readonly ClaimedNotification[]): void {
    if (rows.length === 0) return;
    if (!this.running || this.stopping.signal.aborted) {
      void this.giveBack([...rows]);
      return;
    }
    this.handed.push(...rows);
    this.wake();
  }

  private async giveBack(rows: ClaimedNotification[]): Promise<void> {
    if (rows.length === 0) return;
    await release(this.opts.prisma, rows.map((r) => r.id), new Date(this.now())).catch((err: unknown) =>
      this.log.warn({ err: describeError(err), rows: rows.length }, 'could not put handed-over rows back; the next start-up requeues them'),
    );
  }

  private idleMs(): number {
    return this.opts.idleMs ?? 1_000;
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      this.pendingWake = false;
      let skipped: Platform[] = [];
      let claimed = 0;
      try {
        if (this.stranded.length) {
          await markRetry(this.opts.prisma, this.stranded, new Date(this.now()), 'outcome not recorded (database error)');
          this.stranded = [];
        }
        const first = await this.claim();
        claimed = first.length;
        if (claimed) await this.deliverAll(first);
        else skipped = this.skippedPlatforms(this.now());
        failures = 0;
      } catch (err) {
        const delayMs = nextDelay(failures++, { baseMs: 500, capMs: 30_000 });
        this.log.error({ err: describeError(err), delayMs }, 'outbox round failed; retrying');
        await this.sleep(delayMs, signal).catch(() => undefined);
        continue;
      }
      if (claimed > 0 || this.pendingWake) continue;
      await this.idle(skipped);
    }
  }

  /** platforms whose send tokens are further off than a hold: claiming their rows would only put them back */
  private skippedPlatforms(now: number): Platform[] {
    return [...this.opts.fronts.keys()].filter((p) => this.limiter.platformWait(p, now) > this.holdMs());
  }

  private holdMs(): number {
    return this.opts.holdMs ?? 2_000;
  }

  /** Handed-over rows first, then due rows from the database. */
  private async claim(): Promise<ClaimedNotification[]> {
    const handed = this.handed.splice(0);
    if (handed.length) return handed;
    const now = this.now();
    return claimDue(this.opts.prisma, this.opts.batch ?? 20, new Date(now), { skipPlatforms: this.skippedPlatforms(now) });
  }

  /** Sleeps until the next row comes due, a skipped platform has tokens again, a wake-up, or idleMs. */
  private async idle(skipped: readonly Platform[]): Promise<void> {
    const now = this.now();
    let until = now + this.idleMs();
    for (const p of skipped) until = Math.min(until, now + this.limiter.platformWait(p, now));
    try {
      const due = await nextDueAt(this.opts.prisma, new Date(now));
      if (due) until = Math.min(until, due.getTime());
    } catch (err) {
      this.log.debug({ err: describeError(err) }, 'could not look up the next due row; waiting the idle interval');
    }
    if (this.pendingWake || this.stopping.signal.aborted) return;
    const wait = (this.idleWait = new AbortController());
    await this.sleep(Math.max(1, until - now), AbortSignal.any([this.stopping.signal, wait.signal])).catch(() => undefined);
    this.idleWait = undefined;
  }

  /**
   * One chat's rows in order, one message after another; different chats side by side. A chat's webhook
   * rows are a queue of their own: never packed into a chat message, and neither waits for the other.
   * While the workers send, the next claim is made as soon as fewer chats are waiting than there are
   * workers, so a long burst drains without a gap (and without a wake-up) between claims; the round ends
   * when a claim finds nothing more.
   */
  private async deliverAll(first: readonly ClaimedNotification[]): Promise<void> {
    const queue = byChat(first);
    const concurrency = this.opts.concurrency ?? 8;
    let more = true;
    let refill: Promise<void> | undefined;
    let firstError: { err: unknown } | undefined;
    const topUp = (): void => {
      if (refill || !more || this.stopping.signal.aborted || queue.length >= concurrency) return;
      refill = this.claim()
        .then(
          (rows) => {
            if (rows.length === 0) more = false;
            queue.push(...byChat(rows));
          },
          (err: unknown) => {
            more = false;
            firstError ??= { err };
          },
        )
        .finally(() => (refill = undefined));
    };
    const worker = async (): Promise<void> => {
      for (;;) {
        // stopping: what no worker started goes back below in one write, not one per chat
        if (this.stopping.signal.aborted) return;
        let chat = queue.shift();
        if (!chat) {
          topUp();
          if (refill) await refill;
          chat = queue.shift();
        }
        if (!chat) return;
        // Keep going after a failure: every claimed row must end up written or stranded, never left in flight.
        const delivering = this.deliverChat(chat).catch((err: unknown) => void (firstError ??= { err }));
        // after the chat's delivery has started: a freshly handed-over alert should not wait behind the claim
        // (synchronously, while this worker is still in the round, so no claim can land after the round ended)
        topUp();
        await delivering;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await refill;
    // stopping: chats no worker started, and a claim that landed after the workers were done, go back untouched
    if (queue.length) await this.giveBack(queue.flat());
    if (firstError) throw firstError.err;
  }

  /**
   * A send token for one message to `chat`: 0 once taken, or how long the chat must wait before it can
   * have one (its rows then go back to the outbox with that time). A wait for the platform up to holdMs
   * is slept through holding the rows, in a line per platform, so workers take tokens one after another
   * in claim order, each as soon as the spacing allows, instead of all waking for the same token.
   * Undefined when stopping.
   */
  private async platformToken(platform: Platform, chat: string, kind: ChatKind): Promise<number | undefined> {
    const ahead = this.tokenLines.get(platform) ?? Promise.resolve();
    let leave!: () => void;
    const mine = new Promise<void>((resolve) => (leave = resolve));
    const tail = ahead.then(() => mine);
    this.tokenLines.set(platform, tail);
    try {
      await ahead;
      for (;;) {
        if (this.stopping.signal.aborted) return undefined;
        const now = this.now();
        const chatWait = this.limiter.chatWait(platform, chat, kind, now);
        if (chatWait > 0) return chatWait;
        const platformWait = this.limiter.platformWait(platform, now);
        if (platformWait > this.holdMs()) return platformWait;
        if (platformWait === 0 && this.limiter.reserve(platform, chat, kind, now) === 0) return 0;
        try {
          await this.sleep(Math.max(1, platformWait), this.stopping.signal);
        } catch {
          return undefined;
        }
      }
    } finally {
      leave();
      if (this.tokenLines.get(platform) === tail) this.tokenLines.delete(platform);
    }
  }

  private async deliverChat(rows: ClaimedNotification[]): Promise<void> {
    const open = new Set(rows);
    try {
      await (rows[0]!.target === 'webhook' ? this.deliverWebhookRows(rows, open) : this.deliverChatRows(rows, open));
    } catch (err) {
      for (const row of open) this.stranded.push(row.id);
      throw err;
    }
  }

  /** `open` holds the rows whose outcome is not written yet; each write removes its rows. */
  private async deliverChatRows(rows: ClaimedNotification[], open: Set<ClaimedNotification>): Promise<void> {
    const db = this.opts.prisma;
    const { platform, chatId } = rows[0]!;
    // both change if the chat turns out to live on under another id (see 'migrated' below)
    let { externalId: chat, kind } = rows[0]!;
    let migrated = false;
    const settle = async (done: readonly ClaimedNotification[], write: (ids: bigint[]) => Promise<unknown>, final = false): Promise<void> => {
      const ids = done.filter((r) => open.has(r)).map((r) => r.id);
      if (ids.length) await write(ids);
      for (const r of done) {
        open.delete(r);
        if (final) this.partsSent.delete(r.id);
      }
    };
    const front = this.opts.fronts.get(platform);
    if (!front) {
      if (!this.missingFront.has(platform)) {
        this.missingFront.add(platform);
        this.log.warn({ platform }, `no ${platform} front is running; its messages wait in the outbox`);
      }
      await settle(rows, (ids) => release(db, ids, new Date(this.now() + 60_000)));
      return;
    }
    const maxChars = this.limiter.policy(platform).maxChars;
    const queue = coalesce(rows, maxChars, (r) => this.partsSent.get(r.id) ?? 0);
    for (let msg = queue.shift(); msg; msg = queue.shift()) {
      if (this.stopping.signal.aborted) break;
      if (!msg.rows.some((r) => open.has(r))) continue; // the rest of a text whose row already failed
      const waitMs = await this.platformToken(platform, chat, kind);
      if (waitMs === undefined) break;
      if (waitMs > 0) {
        await settle([...open], (ids) => release(db, ids, new Date(this.now() + waitMs)));
        return;
      }
      let outcome: DeliveryOutcome;
      try {
        const options = buttonsFor(msg);
        outcome = await front.send(chat, msg.text, options);
        // a keyboard the platform refuses must not cost the alert itself
        if (options && !outcome.ok && outcome.reason === 'permanent') outcome = await front.send(chat, msg.text);
      } catch (err) {
        outcome = { ok: false, reason: 'transient', error: describeError(err) }; // a front broke its promise not to throw
      }
      if (outcome.ok) {
        if (msg.partial) this.partsSent.set(msg.partial.row.id, msg.partial.parts);
        await settle(msg.completes, (ids) => markSent(db, ids, new Date(this.now())), true);
        continue;
      }
      if (outcome.reason === 'migrated') {
        // once per delivery: a new id that itself says "migrated" is not followed round in circles
        if (migrated) outcome = { ok: false, reason: 'transient', error: outcome.error };
        else {
          migrated = true;
          const to = outcome.to;
          const moved = await db.$transaction((tx) => migrateChat(tx, { platform, from: chat, to }));
          this.log.info({ platform, from: chat, to, merged: moved?.merged != null }, 'group upgraded to a supergroup; its chat moved to the new id, sending there');
          if (moved) this.opts.onChatMigrated?.(moved);
          chat = to;
          kind = 'group';
          // the refused request took a token that Telegram counted anyway; the resend takes its own
          queue.unshift(msg);
          continue;
        }
      }
      const tried = msg.rows;
      const untried = [...open].filter((r) => !tried.includes(r));
      const ctx = { platform, chat, rows: tried.length, attempts: Math.max(...tried.map((r) => r.attempts)), reason: outcome.reason, error: outcome.error };
      switch (outcome.reason) {
        case 'rate_limited': {
          const until = this.now() + outcome.retryAfterMs;
          let paused: 'chat' | 'platform' = 'platform';
          if (outcome.global) this.limiter.pause(platform, null, until);
          else paused = this.limiter.refused(platform, chat, this.now(), until);
          this.log.warn({ ...ctx, retryAfterMs: outcome.retryAfterMs, global: outcome.global === true }, paused === 'platform' ? `${platform} rate limit hit; pausing the platform` : 'chat rate limit hit; pausing it');
          await settle(tried, (ids) => markRetry(db, ids, new Date(until), outcome.error));
          await settle(untried, (ids) => release(db, ids, new Date(until)));
          return;
        }
        case 'transient': {
          const maxAttempts = this.opts.maxAttempts ?? 60;
          const spent = tried.filter((r) => r.attempts >= maxAttempts);
          if (spent.length) {
            this.log.error({ ...ctx, rows: spent.length }, 'giving up on notifications after repeated failures');
            await settle(spent, (ids) => markFailed(db, ids, outcome.error), true);
          }
          const delayMs = nextDelay(ctx.attempts - 1, { baseMs: 1_000, capMs: 30 * 60_000 });
          const at = new Date(this.now() + delayMs);
          this.log.warn({ ...ctx, delayMs }, 'send failed; will retry');
          await settle(tried, (ids) => markRetry(db, ids, at, outcome.error));
          // the chat's later rows wait with them, so they cannot overtake the ones being retried
          await settle(untried, (ids) => release(db, ids, at));
          return;
        }
        case 'forbidden':
        case 'not_found':
          // The chat is gone for us (blocked, kicked, deleted): stop sending there and pause its rules.
          await db.$transaction([
            db.notification.updateMany({ where: { id: { in: [...open].map((r) => r.id) } }, data: { status: 'failed', error: outcome.error } }),
            db.chat.update({ where: { id: chatId }, data: { active: false } }),
            db.alertRule.updateMany({ where: { chatId, state: 'active' }, data: { state: 'paused' } }),
          ]);
          for (const r of open) this.partsSent.delete(r.id);
          open.clear();
          this.log.warn(ctx, 'chat unreachable; marked inactive and its rules paused');
          this.opts.onChatUnreachable?.(chatId);
          return;
        case 'permanent':
          if (tried.length > 1) {
            // One bad text must not sink the alerts packed with it: send them one by one to find it.
            queue.unshift(...tried.flatMap((r) => coalesce([r], maxChars, (x) => this.partsSent.get(x.id) ?? 0)));
            this.log.warn(ctx, 'combined message refused; sending its notifications one by one');
            continue;
          }
          this.log.error(ctx, 'notification refused for good');
          await settle(tried, (ids) => markFailed(db, ids, outcome.error), true);
          continue;
      }
    }
    // stopping: whatever was not sent waits for the next run, without spending an attempt
    await settle([...open], (ids) => release(db, ids, new Date(this.now())));
  }
  /**
   * A chat's webhook rows, one POST each, in order. The webhook is read at send time, so rows left after
   * `/webhook off` fail rather than go out, and a replaced webhook gets what was still waiting.
   */
  private async deliverWebhookRows(rows: ClaimedNotification[], open: Set<ClaimedNotification>): Promise<void> {
    const db = this.opts.prisma;
    const { chatId } = rows[0]!;
    const settle = async (done: readonly ClaimedNotification[], write: (ids: bigint[]) => Promise<unknown>): Promise<void> => {
      const ids = done.filter((r) => open.has(r)).map((r) => r.id);
      if (ids.length) await write(ids);
      for (const r of done) open.delete(r);
    };
    const hook = await db.webhook.findUnique({ where: { chatId } });
    if (!hook?.active) {
      await settle(rows, (ids) => markFailed(db, ids, 'webhook removed'));
      return;
    }
    const post = this.opts.postWebhook ?? postWebhook;
    for (const row of rows) {
      if (this.stopping.signal.aborted) break;
      const payload = AlertPayload.safeParse(row.payload);
      if (!payload.success) {
        await settle([row], (ids) => markFailed(db, ids, 'not an alert: nothing to post'));
        continue;
      }
      const body = JSON.stringify({ ...payload.data, platform: row.platform, chat: row.externalId, sentAt: new Date(this.now()).toISOString() });
      const outcome = await post({ url: hook.url, secret: hook.secret, deliveryId: row.id.toString(), body });
      if (outcome.ok) {
        await settle([row], (ids) => markSent(db, ids, new Date(this.now())));
        if (hook.failures > 0 || hook.lastError) await db.webhook.updateMany({ where: { id: hook.id }, data: { failures: 0, lastError: null } });
        hook.failures = 0;
        hook.lastError = null;
        continue;
      }
      const ctx = { chatId, attempts: row.attempts, error: outcome.error };
      await db.webhook.updateMany({ where: { id: hook.id }, data: { failures: { increment: 1 }, lastError: outcome.error } });
      hook.failures += 1;
      if (webhookGivesUp(hook.failures, outcome)) {
        this.log.warn({ ...ctx, failures: hook.failures }, 'webhook switched off');
        await switchOffWebhook(db, hook, outcome.error, new Date(this.now()));
        for (const r of rows) open.delete(r);
        return;
      }
      if (!outcome.retry || row.attempts >= (this.opts.maxAttempts ?? 60)) {
        this.log.warn(ctx, 'webhook delivery failed for good');
        await settle([row], (ids) => markFailed(db, ids, outcome.error));
        continue;
      }
      const at = new Date(this.now() + nextDelay(row.attempts - 1, { baseMs: 1_000, capMs: 30 * 60_000 }));
      this.log.warn(ctx, 'webhook delivery failed; will retry');
      await settle([row], (ids) => markRetry(db, ids, at, outcome.error));
      // later alerts wait with it, so the receiver sees them in order
      await settle([...open], (ids) => release(db, ids, at));
      return;
    }
    await settle([...open], (ids) => release(db, ids, new Date(this.now())));
  }
}

function byChat(rows: readonly ClaimedNotification[]): ClaimedNotification[][] {
  const chats = new Map<string, ClaimedNotification[]>();
  for (const row of rows) {
    const key = `${row.target}:${row.chatId}`;
    const list = chats.get(key);
    if (list) list.push(row);
    else chats.set(key, [row]);
  }
  return [...chats.values()];
}

/**
 * One transaction: the webhook goes inactive (so firings stop making rows for it), every row still
 * waiting for it fails with the reason, and the chat gets a notice saying how to turn it on again.
 */
async function switchOffWebhook(prisma: PrismaClient, hook: { id: number; chatId: number; url: string; failures: number }, lastError: string, now: Date): Promise<void> {
  await prisma.$transaction(async (tx) => {
    await tx.webhook.updateMany({ where: { id: hook.id }, data: { active: false } });
    await tx.notification.updateMany({
      where: { chatId: hook.chatId, target: 'webhook', status: { in: ['pending', 'sending'] } },
      data: { status: 'failed', error: `webhook switched off: ${lastError}`.slice(0, 500) },
    });
    const lang = (await chatLanguages(tx, [hook.chatId])).get(hook.chatId) ?? 'en';
    await enqueue(
      tx,
      [{ chatId: hook.chatId, dedupeKey: `webhook:${hook.id}:off:${now.getTime()}`, text: webhookOffNotice(lang, hook.url, hook.failures, lastError), payload: { kind: 'notice' } }],
      now,
    );
  });
}
