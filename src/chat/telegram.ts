import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { autoRetry } from '@grammyjs/auto-retry';
import { Bot, GrammyError, HttpError, webhookCallback, type Context } from 'grammy';
import type { ChatMember, InlineKeyboardMarkup } from 'grammy/types';
import { ConfigError, describeError, UserInputError } from '../errors.js';
import { LANGUAGES, msg, render, type Lang } from '../i18n/index.js';
import { sleep, TimeoutError, withTimeout } from '../lib/abort.js';
import { nextDelay } from '../lib/backoff.js';
import { redactSecrets, type Logger } from '../log.js';
import { commandList, dispatchCommand, parseCommandLine, replyLanguage, type CommandServices } from './commands/index.js';
import { pressButton, replyButtons } from './commands/buttons.js';
import type { ChannelCheck, ChatRef, Reply } from './commands/types.js';
import { renderButtonOutcome, renderReply } from './format.js';
import type { ButtonRows, ChatFront, DeliveryOutcome, SendOptions } from './front.js';
import type { RateLimiter } from '../delivery/limits.js';

type Message = NonNullable<Context['msg']>;
type CallbackQuery = NonNullable<Context['callbackQuery']>;
type MemberUpdate = NonNullable<Context['myChatMember']>;
/**
 * grammY's Node typings name the abort-controller polyfill's AbortSignal; at runtime grammY only calls
 * addEventListener on it (checked in its client), which the native signal has.
 */
type GrammySignal = NonNullable<Parameters<Bot['init']>[0]>;
const forGrammy = (signal: AbortSignal): GrammySignal => signal as unknown as GrammySignal;

export interface TelegramFrontOptions {
  token: string;
  /** Bot API root without a trailing slash (grammY `client.apiRoot`); tests point it at a local fake */
  apiRoot: string;
  /** set → webhook mode: Telegram POSTs updates to this URL, which the HTTP server serves at its path */
  webhookUrl?: string;
  webhookSecret?: string;
  services: CommandServices;
  log: Logger;
  /** how long start() waits for Telegram before carrying on and connecting in the background (default 10 s) */
  startTimeoutMs?: number;
  /** stop() never takes longer than this, even with Telegram unreachable (default 4 s, under the app's 5 s step) */
  stopTimeoutMs?: number;
  /** bound of one outgoing send(); the outbox retries, so a hung request must not hold its row (default 15 s) */
  sendTimeoutMs?: number;
  /** long-poll `timeout` of getUpdates in seconds (default 30) */
  pollTimeoutSeconds?: number;
  /** the process's send budget: command replies draw from it in the reply lane, ahead of queued alerts */
  limiter?: RateLimiter;
  /** the clock of the admin and channel caches (tests move it past the cache's minute) */
  now?: () => number;
}

/**
 * Only what the front acts on is fetched; edits, reactions and other members' changes never reach us.
 * Commands in an edited message are deliberately not re-run: the original already got its answer.
 * my_chat_member tells us the bot was removed, blocked or added back.
 */
const ALLOWED_UPDATES = ['message', 'channel_post', 'callback_query', 'my_chat_member'] as const;
/** grammY's own default wait when a 429 carries no retry_after */
const DEFAULT_RETRY_AFTER_S = 3;
/**
 * An admin check is reused this long: someone demoted keeps the rights for at most a minute. The same
 * bound holds for a channel check ("to @name"); only a positive answer is kept, so fixing the rights
 * after a refusal works at once.
 */
const ADMIN_CACHE_MS = 60_000;
/** past this many cached checks the stale ones are dropped, so a huge group cannot grow the map for ever */
const ADMIN_CACHE_MAX = 10_000;
/** A callback answer is a toast of at most 200 characters. */
const TOAST_CHARS = 200;

/**
 * Whether the bot can post in a chat, by its own membership there (pure). A private chat that blocked the
 * bot reports "kicked"; a muted bot in a group is "restricted" without can_send_messages.
 */
export function botCanPost(m: ChatMember): boolean {
  return m.status === 'creator' || m.status === 'administrator' || m.status === 'member' || (m.status === 'restricted' && m.is_member && m.can_send_messages);
}

function toKeyboard(rows: ButtonRows | undefined): InlineKeyboardMarkup {
  return { inline_keyboard: (rows ?? []).map((row) => row.map((b) => ({ text: b.label, callback_data: b.data }))) };
}

/** reply_markup for sendMessage, or nothing: an empty keyboard is noise in the request. */
function inlineKeyboard(rows: ButtonRows | undefined): { reply_markup: InlineKeyboardMarkup } | Record<string, never> {
  return rows?.length ? { reply_markup: toKeyboard(rows) } : {};
}

/**
 * Maps anything the Bot API client threw into what the dispatcher decides on (pure). The error text is
 * redacted: grammY's network errors can quote the request URL, and that URL contains the token.
 */
export function classifyTelegramError(err: unknown): DeliveryOutcome {
  const error = describeTelegramError(err);
  if (err instanceof GrammyError) {
    const code = err.error_code;
    const description = err.description;
    if (code === 429) {
      const retryAfterS = typeof err.parameters.retry_after === 'number' ? err.parameters.retry_after : DEFAULT_RETRY_AFTER_S;
      return { ok: false, reason: 'rate_limited', retryAfterMs: retryAfterS * 1000, error };
    }
    if (code === 403) return { ok: false, reason: 'forbidden', error };
    if (code === 400) {
      // A group upgraded to a supergroup lives on under a new id (parameters.migrate_to_chat_id): the old one is gone.
      const migrateTo = err.parameters.migrate_to_chat_id;
      if (typeof migrateTo === 'number') return { ok: false, reason: 'migrated', to: String(migrateTo), error };
      if (/chat not found|user not found|PEER_ID_INVALID|upgraded to a supergroup/i.test(description)) {
        return { ok: false, reason: 'not_found', error };
      }
      // Telegram says 400, but it is the chat refusing us (muted in a group, channel without post rights).
      if (/not enough rights|have no rights|CHAT_WRITE_FORBIDDEN|CHAT_RESTRICTED/i.test(description)) return { ok: false, reason: 'forbidden', error };
      return { ok: false, reason: 'permanent', error };
    }
    // 401/404 mean the bot's token is wrong or revoked, 409 a second instance: nothing is wrong with the chat
    // or the message, so the row should survive until the operator fixes the bot.
    if (code >= 500 || code === 401 || code === 404 || code === 409) return { ok: false, reason: 'transient', error };
    return { ok: false, reason: 'permanent', error };
  }
  // HttpError: the request never got an answer (refused, reset, timed out, aborted). Anything else is
  // unexpected; the outbox's attempt cap decides rather than dropping an alert on a guess.
  return { ok: false, reason: 'transient', error };
}

/** One redacted line; for network errors the cause is the useful part (ECONNREFUSED, ETIMEDOUT…). */
function describeTelegramError(err: unknown): string {
  if (err instanceof HttpError) {
    const cause = err.error instanceof Error ? ` (${err.error.message})` : '';
    return redactSecrets(`${err.message}${cause}`).slice(0, 300);
  }
  if (err instanceof GrammyError) {
    const migrated = err.parameters.migrate_to_chat_id;
    return redactSecrets(`${err.message}${migrated !== undefined ? ` (migrate_to_chat_id ${migrated})` : ''}`).slice(0, 300);
  }
  return redactSecrets(describeError(err));
}

/** The command menu in one language (Telegram: 1–32 of [a-z0-9_] per name, a description of at most 256 characters). */
export function commandMenu(lang: Lang): Array<{ command: string; description: string }> {
  return commandList()
    .filter((c) => /^[a-z0-9_]{1,32}$/.test(c.name))
    .map((c) => ({ command: c.name, description: (render(lang, { key: c.summary }).split('\n')[0] ?? c.name).slice(0, 256) }));
}

function toChatRef(chat: Message['chat'], from: Message['from'] | CallbackQuery['from']): ChatRef {
  const kind = chat.type === 'private' ? 'private' : chat.type === 'channel' ? 'channel' : 'group';
  // a channel is known by its @username: that is how /channel and "to @name" find its row
  const title = kind === 'channel' && chat.username ? `@${chat.username}` : chat.title ?? ([chat.first_name, chat.last_name].filter(Boolean).join(' ') || chat.username);
  return {
    platform: 'telegram', chatId: String(chat.id), kind, ...(from ? { userId: String(from.id) } : {}), ...(title ? { title } : {}),
    ...(from?.language_code ? { userLanguage: from.language_code } : {}),
  };
}

/** Compares digests so neither the length nor the first differing byte of the secret leaks through timing. */
function sameSecret(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The Telegram front: grammY in, the shared command layer in the middle, plain text out. It owns no
 * retries beyond a short auto-retry (the outbox owns long waits), speaks to Telegram only through
 * `apiRoot`, and can always be stopped within `stopTimeoutMs`.
 */
export class TelegramFront implements ChatFront {
  readonly platform = 'telegram' as const;
  /** the path the HTTP server must route POSTs of to handleWebhook (webhook mode only) */
  readonly webhookPath: string | undefined;
  private readonly bot: Bot;
  private readonly log: Logger;
  private readonly stopping = new AbortController();
  private readonly webhook: ((req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>) | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private launch: Promise<void> | undefined;
  private polling: Promise<void> | undefined;
  private startReturned = false;
  private failedPolls = 0;
  /** "<chat>:<user>" → the pending or settled getChatMember answer, shared by concurrent asks */
  private readonly admins = new Map<string, { admin: Promise<boolean>; until: number }>();
  /** "<@handle lowercased>:<user>" → a pending or positive channel check */
  private readonly channelChecks = new Map<string, { check: Promise<ChannelCheck>; until: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: TelegramFrontOptions) {
    this.log = opts.log.child({ mod: 'telegram' });
    this.now = opts.now ?? Date.now;
    const pollTimeout = opts.pollTimeoutSeconds ?? 30;
    // The client timeout only has to outlast a long poll; every other call carries its own bound.
    this.bot = new Bot(opts.token, { client: { apiRoot: opts.apiRoot, timeoutSeconds: pollTimeout + 15 } });
    // rethrowHttpErrors: auto-retry would otherwise retry network errors forever, holding outbox rows and
    // SIGTERM (ARCHITECTURE.md). 5xx goes back too: the dispatcher reschedules it with its own backoff.
    // sendMessage is left out: a resend slept through here would take no token from the shared limiter,
    // would never pause the chat or platform, and would freeze the dispatcher's worker meanwhile (the
    // delivery benchmark saw 36 messages/s and 3 s stalls). The outbox (or, for a reply, the log) handles it.
    const retry = autoRetry({ maxRetryAttempts: 1, maxDelaySeconds: 3, rethrowHttpErrors: true, rethrowInternalServerErrors: true });
    this.bot.api.config.use((prev, method, payload, signal) => (method === 'sendMessage' ? prev(method, payload, signal) : retry(prev, method, payload, signal)));
    this.bot.api.config.use(async (prev, method, payload, signal) => {
      if (method !== 'getUpdates') return prev(method, payload, signal);
      try {
        const res = await prev(method, payload, signal);
        this.pollOutcome(res.ok ? undefined : `${res.error_code}: ${res.description}`);
        return res;
      } catch (err) {
        if (!this.stopping.signal.aborted) this.pollOutcome(describeTelegramError(err));
        throw err;
      }
    });
    // grammY's default handler stops the bot on the first failing update.
    this.bot.catch((err) => this.log.error({ updateId: err.ctx.update.update_id, err: describeTelegramError(err.error) }, 'Telegram update failed; still serving'));
    this.bot.on('message', (ctx) => this.onMessage(ctx, ctx.message));
    this.bot.on('channel_post', (ctx) => this.onMessage(ctx, ctx.channelPost));
    this.bot.on('callback_query', (ctx) => this.onButton(ctx, ctx.callbackQuery));
    this.bot.on('my_chat_member', (ctx) => this.onMembership(ctx.myChatMember));

    if (opts.webhookUrl) {
      if (!opts.webhookSecret) throw new Error('Telegram webhook mode needs a secret, so forged updates can be refused');
      this.webhookPath = new URL(opts.webhookUrl).pathname;
      // 'return' on timeout: Telegram gets its 200 and does not redeliver a slow /price, which would answer twice.
      this.webhook = webhookCallback(this.bot, 'http', { secretToken: opts.webhookSecret, onTimeout: 'return', timeoutMilliseconds: 9_000 });
    }
  }

  /** the bot's @username once start() has identified it */
  get username(): string | undefined {
    return this.bot.isInited() ? this.bot.botInfo.username : undefined;
  }

  /**
   * Identifies the bot, publishes the command menu and starts receiving. A rejected token fails here; an
   * unreachable Telegram does not hold up the app: after startTimeoutMs this returns and the connection
   * keeps being retried in the background.
   */
  async start(): Promise<void> {
    if (this.launch) return;
    const startedAt = Date.now();
    this.launch = this.connect();
    this.launch.then(
      () => !this.stopping.signal.aborted && this.log.info({ username: this.username, mode: this.webhook ? 'webhook' : 'polling', ms: Date.now() - startedAt }, `Telegram bot @${this.username} is up`),
      (err: unknown) => {
        if (this.startReturned && !this.stopping.signal.aborted) this.log.error({ err: describeTelegramError(err) }, 'Telegram front could not start; it stays off until restart');
      },
    );
    try {
      await withTimeout(this.launch, this.opts.startTimeoutMs ?? 10_000, 'Telegram start');
    } catch (err) {
      if (err instanceof TimeoutError) {
        this.log.warn({ ms: err.ms }, 'Telegram is not reachable yet; the bot starts without it and keeps trying');
        return;
      }
      // 401/404 on getMe: the token is wrong or revoked, which only the operator can fix
      if (err instanceof GrammyError && (err.error_code === 401 || err.error_code === 404)) {
        throw new ConfigError([`TELEGRAM_BOT_TOKEN was rejected by Telegram (${err.error_code}: ${err.description}); check it with @BotFather`]);
      }
      throw new Error(`Telegram front could not start: ${describeTelegramError(err)}`);
    } finally {
      this.startReturned = true;
    }
  }

  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort(new Error('stopping'));
    const deadline = Date.now() + (this.opts.stopTimeoutMs ?? 4_000);
    const bounded = async (what: string, work: Promise<unknown>): Promise<void> => {
      try {
        await withTimeout(work, Math.max(1, deadline - Date.now()), what);
      } catch (err) {
        this.log.warn({ err: describeTelegramError(err) }, `shutdown: ${what} did not finish`);
      }
    };
    // bot.stop() confirms the last handled update, so a restart does not answer it again.
    if (this.bot.isRunning()) await bounded('confirming the last Telegram update', this.bot.stop());
    if (this.polling) await bounded('the Telegram update in progress', this.polling);
    if (this.inflight.size > 0) await bounded('Telegram webhook requests', Promise.allSettled([...this.inflight]));
  }

  /**
   * Sends one plain-text message, with buttons as an inline keyboard; never throws. Short 429 waits
   * happen inside, long ones go back as rate_limited.
   */
  async send(chatId: string, text: string, options?: SendOptions): Promise<DeliveryOutcome> {
    try {
      const extra = { link_preview_options: { is_disabled: true }, ...inlineKeyboard(options?.buttons) };
      await this.bot.api.sendMessage(chatId, text, extra, forGrammy(AbortSignal.timeout(this.opts.sendTimeoutMs ?? 15_000)));
      return { ok: true };
    } catch (err) {
      return classifyTelegramError(err);
    }
  }

  /**
   * The webhook endpoint, for the HTTP server's POST route at webhookPath. A request without the secret is
   * refused before its body is read; after stop() requests get 503 so Telegram delivers them again later.
   */
  readonly handleWebhook = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const secret = this.opts.webhookSecret;
    if (!this.webhook || !secret) return void res.writeHead(404).end();
    if (!sameSecret(req.headers['x-telegram-bot-api-secret-token'], secret)) {
      this.log.warn({ remote: req.socket.remoteAddress }, 'refused a webhook request without the right secret token');
      req.resume();
      return void res.writeHead(401).end();
    }
    if (this.stopping.signal.aborted) {
      req.resume();
      return void res.writeHead(503, { 'retry-after': '5' }).end();
    }
    const task = this.webhook(req, res).catch((err: unknown) => {
      // Only malformed bodies and bugs get here (handlers catch their own errors); 500 lets Telegram retry.
      this.log.error({ err: describeTelegramError(err) }, 'Telegram webhook request failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
    this.inflight.add(task);
    try {
      await task;
    } finally {
      this.inflight.delete(task);
    }
  };

  private async connect(): Promise<void> {
    const signal = this.stopping.signal;
    await this.bot.init(forGrammy(signal)); // getMe: the username makes "/price@ThisBot" ours and "/price@OtherBot" not
    await this.publishCommands(signal);
    if (this.webhook) {
      await this.retrying('setWebhook', () =>
        this.bot.api.setWebhook(this.opts.webhookUrl!, { secret_token: this.opts.webhookSecret!, allowed_updates: ALLOWED_UPDATES, drop_pending_updates: false }, forGrammy(signal)),
      );
      return;
    }
    await new Promise<void>((ready) => {
      this.polling = this.poll(ready).finally(ready);
    });
  }

  /**
   * The menu Telegram shows after "/": the English one for everyone, and one per other language for users
   * whose client speaks it. Cosmetic, so a failure is logged and start goes on.
   */
  private async publishCommands(signal: AbortSignal): Promise<void> {
    for (const lang of LANGUAGES) {
      const commands = commandMenu(lang);
      try {
        await this.bot.api.setMyCommands(commands, lang === 'en' ? {} : { language_code: lang }, forGrammy(signal));
      } catch (err) {
        if (signal.aborted) return;
        this.warnFailed(`setMyCommands (${lang})`, err);
      }
    }
  }

  /**
   * Long polling through grammY's bot.start(), which first calls deleteWebhook (drop_pending_updates: false,
   * so messages sent while we were down are still answered). grammY retries failed getUpdates calls itself;
   * it gives up only on 401 (token revoked) and 409 (another instance polls, or a webhook was set), and
   * then this loop starts it again with a backoff instead of leaving the bot deaf.
   */
  private async poll(ready: () => void): Promise<void> {
    for (let attempt = 0; !this.stopping.signal.aborted; attempt++) {
      try {
        await this.bot.start({
          drop_pending_updates: false,
          allowed_updates: ALLOWED_UPDATES,
          timeout: this.opts.pollTimeoutSeconds ?? 30,
          onStart: () => {
            attempt = 0;
            ready();
          },
        });
        return; // bot.start() resolves only once bot.stop() was called
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        const delayMs = nextDelay(attempt, { baseMs: 1_000, capMs: 60_000 });
        this.log.error({ err: describeTelegramError(err), delayMs }, `Telegram polling stopped, restarting in ${(delayMs / 1000).toFixed(1)} s`);
        await sleep(delayMs, this.stopping.signal).catch(() => undefined);
      }
    }
  }

  /** Retries network errors, 5xx and 429 until done or stopped; a 4xx (bad URL, wrong token) is final. */
  private async retrying<T>(what: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const outcome = classifyTelegramError(err);
        if (this.stopping.signal.aborted || outcome.ok || (outcome.reason !== 'transient' && outcome.reason !== 'rate_limited')) throw err;
        const delayMs = outcome.reason === 'rate_limited' ? outcome.retryAfterMs : nextDelay(attempt, { baseMs: 1_000, capMs: 60_000 });
        this.log.warn({ err: outcome.error, delayMs }, `${what} failed, retrying`);
        await sleep(delayMs, this.stopping.signal);
      }
    }
  }

  /**
   * Telegram counts replies in its 30 messages/s like any other send. A reply the platform refuses holds
   * its next token against alerts (see limits.ts), so this wait is about one spacing interval even while
   * an alert burst drains; a reply abandoned on shutdown leaves a hold that lapses on its own.
   */
  private async waitForReplySlot(chat: ChatRef): Promise<void> {
    const limiter = this.opts.limiter;
    if (!limiter) return;
    for (;;) {
      const waitMs = limiter.reserve('telegram', chat.chatId, chat.kind, Date.now(), { priority: 'reply' });
      if (waitMs === 0) return;
      await sleep(waitMs, this.stopping.signal);
    }
  }

  private async onMessage(ctx: Context, msg: Message): Promise<void> {
    if (msg.migrate_to_chat_id !== undefined || msg.migrate_from_chat_id !== undefined) return this.onMigration(msg);
    const chat = toChatRef(msg.chat, msg.from);
    const reply = await this.replyTo(msg, chat, ctx.me.username);
    if (!reply) return;
    const lang = await replyLanguage(chat, this.opts.services, reply);
    const text = renderReply(reply, lang);
    if (!text) return;
    try {
      await this.waitForReplySlot(chat);
      await ctx.api.sendMessage(msg.chat.id, text, {
        link_preview_options: { is_disabled: true },
        ...inlineKeyboard(replyButtons(reply, lang)),
        // in a forum the answer belongs in the topic the question was asked in
        ...(msg.is_topic_message && msg.message_thread_id !== undefined ? { message_thread_id: msg.message_thread_id } : {}),
        // in a busy group, quoting the question shows whom the answer is for
        ...(chat.kind === 'group' ? { reply_parameters: { message_id: msg.message_id, allow_sending_without_reply: true } } : {}),
      });
    } catch (err) {
      this.warnFailed('sendMessage (command reply)', err, chat.chatId);
    }
  }

  /**
   * What to answer, or null for silence. Groups and channels only hear back from commands meant for us:
   * several bots may share a group, and a correction for someone else's "/start" would be noise there.
   */
  private async replyTo(msg: Message, chat: ChatRef, botUsername: string): Promise<Reply | null> {
    const isPrivate = chat.kind === 'private';
    // A forwarded "/price" is someone else's words being shown to us, not a request.
    const text = msg.forward_origin || msg.via_bot ? undefined : msg.text;
    if (text === undefined || !text.startsWith('/')) return isPrivate ? { kind: 'not_a_command' } : null;
    const reply = await dispatchCommand(text, chat, {
      services: this.opts.services, log: this.log, botUsername, canManage: () => this.sentByAdmin(msg), checkChannel: this.checkChannel,
    });
    if (!reply || isPrivate) return reply;
    if (reply.kind === 'unknown_command' || reply.kind === 'not_a_command') {
      const mention = parseCommandLine(text)?.mention;
      return mention && mention.toLowerCase() === botUsername.toLowerCase() ? reply : null;
    }
    return reply;
  }

  /**
   * A button press: the outcome as a toast, always (an unanswered press spins until the client gives up),
   * and a /alerts list redrawn without the row its ❌ deleted.
   */
  private async onButton(ctx: Context, query: CallbackQuery): Promise<void> {
    const message = query.message;
    let redraw: Reply | undefined;
    let toast: string | undefined;
    let lang: Lang = 'en';
    try {
      // a button on an inline-mode message has no chat to act on; this bot sends none, so it is not ours
      if (query.data !== undefined && message) {
        const chat = toChatRef(message.chat, query.from);
        const outcome = await pressButton(query.data, chat, { services: this.opts.services, log: this.log, canManage: () => this.isAdmin(message.chat.id, query.from.id) });
        lang = await replyLanguage(chat, this.opts.services);
        toast = renderButtonOutcome(outcome, lang)?.slice(0, TOAST_CHARS);
        if (outcome.kind === 'deleted' && outcome.list) redraw = outcome.list;
      }
    } finally {
      await ctx.answerCallbackQuery(toast ? { text: toast } : undefined).catch((err: unknown) => this.warnFailed('answerCallbackQuery', err));
    }
    if (!redraw || !message) return;
    try {
      // an empty keyboard removes the buttons once the last alert is gone
      await ctx.api.editMessageText(message.chat.id, message.message_id, renderReply(redraw, lang) ?? '', { reply_markup: toKeyboard(replyButtons(redraw, lang)) });
    } catch (err) {
      this.warnFailed('editMessageText (alert list)', err, String(message.chat.id));
    }
  }

  /**
   * The bot's own membership changed. Removed, kicked, blocked or muted: the chat's rules pause. In (again):
   * they resume. Before the database is up nothing can be recorded; the dispatcher's forbidden outcome
   * and the next command from the chat settle it then.
   */
  private async onMembership(update: MemberUpdate): Promise<void> {
    const alerts = this.opts.services.alerts;
    const chatId = String(update.chat.id);
    // also on a promotion or unmuting: the dispatcher may have given the chat up meanwhile (this is idempotent)
    const canPost = botCanPost(update.new_chat_member);
    const ctx = { chatId, from: update.old_chat_member.status, to: update.new_chat_member.status };
    try {
      if (canPost) {
        const back = await alerts?.reactivateChat?.('telegram', chatId);
        if (back) this.log.info({ ...ctx, resumed: back.resumed }, 'bot is in the chat again');
      } else {
        const known = await alerts?.deactivateChat?.('telegram', chatId);
        if (known) this.log.info(ctx, "bot removed or blocked; the chat's alerts are paused");
      }
    } catch (err) {
      this.log.warn({ ...ctx, err: describeError(err) }, 'could not record a membership change');
    }
  }

  /**
   * A group was upgraded to a supergroup: Telegram says so in the old group (migrate_to_chat_id) and in
   * the new one (migrate_from_chat_id). The first to arrive moves the chat to the new id; the second
   * finds nothing left to move.
   */
  private async onMigration(msg: Message): Promise<void> {
    const [from, to] = msg.migrate_to_chat_id !== undefined ? [msg.chat.id, msg.migrate_to_chat_id] : [msg.migrate_from_chat_id!, msg.chat.id];
    const ctx = { from: String(from), to: String(to) };
    try {
      const moved = await this.opts.services.alerts?.migrateChat?.('telegram', ctx.from, ctx.to);
      if (moved) this.log.info({ ...ctx, merged: moved.merged !== null }, 'group upgraded to a supergroup; its alerts moved to the new chat id');
    } catch (err) {
      // the dispatcher's first send to the old id is refused with the new id, and moves the chat then
      this.log.warn({ ...ctx, err: describeError(err) }, 'could not move an upgraded group to its new id');
    }
  }

  /**
   * Whether a group message comes from one of the group's admins. An anonymous admin writes as the group
   * itself; writing as a channel proves nothing about rights in the group.
   */
  private sentByAdmin(msg: Message): Promise<boolean> {
    if (msg.sender_chat) return Promise.resolve(msg.sender_chat.id === msg.chat.id);
    if (!msg.from) return Promise.resolve(false);
    return this.isAdmin(msg.chat.id, msg.from.id);
  }

  /** getChatMember, cached per (chat, user) for a minute. Throws UserInputError when Telegram cannot say. */
  private isAdmin(chatId: number, userId: number): Promise<boolean> {
    const key = `${chatId}:${userId}`;
    const now = this.now();
    const cached = this.admins.get(key);
    if (cached && cached.until > now) return cached.admin;
    prune(this.admins, now);
    const signal = forGrammy(AbortSignal.timeout(this.opts.sendTimeoutMs ?? 15_000));
    const entry = {
      until: now + ADMIN_CACHE_MS,
      admin: this.bot.api.getChatMember(chatId, userId, signal).then(
        (m) => m.status === 'creator' || m.status === 'administrator',
        (err: unknown) => {
          // a failure is not an answer: the next ask tries again
          if (this.admins.get(key) === entry) this.admins.delete(key);
          this.warnFailed('getChatMember', err, String(chatId));
          throw new UserInputError(msg('admins.cannotCheck'));
        },
      ),
    };
    this.admins.set(key, entry);
    return entry.admin;
  }

  /**
   * Whether a user may have the bot post to the channel @handle (see CheckChannel): getChat, then the bot's
   * and the user's membership. A positive answer is cached per (channel, user) for ADMIN_CACHE_MS, so a
   * demoted admin is refused within a minute; refusals and failures are not cached.
   */
  readonly checkChannel = (handle: string, userId: string, opts: { fresh?: boolean } = {}): Promise<ChannelCheck> => {
    const key = `${handle.toLowerCase()}:${userId}`;
    const now = this.now();
    const cached = this.channelChecks.get(key);
    if (!opts.fresh && cached && cached.until > now) return cached.check;
    prune(this.channelChecks, now);
    const entry = {
      until: now + ADMIN_CACHE_MS,
      check: this.askChannel(handle, userId).then((answer) => {
        if (!answer.ok && this.channelChecks.get(key) === entry) this.channelChecks.delete(key);
        return answer;
      }),
    };
    this.channelChecks.set(key, entry);
    return entry.check;
  };

  private async askChannel(handle: string, userId: string): Promise<ChannelCheck> {
    if (!this.bot.isInited()) return { ok: false, reason: 'unreachable' };
    const signal = (): GrammySignal => forGrammy(AbortSignal.timeout(this.opts.sendTimeoutMs ?? 15_000));
    /** a 400 is Telegram's answer (no such chat, no such member); anything else means it could not be asked */
    const answered = (method: string, err: unknown): boolean => {
      if (err instanceof GrammyError && (err.error_code === 400 || err.error_code === 403)) return true;
      this.warnFailed(method, err, handle);
      return false;
    };
    let chat: Awaited<ReturnType<Bot['api']['getChat']>>;
    try {
      chat = await this.bot.api.getChat(handle, signal());
    } catch (err) {
      return { ok: false, reason: answered('getChat', err) ? 'not_found' : 'unreachable' };
    }
    if (chat.type !== 'channel') return { ok: false, reason: 'not_channel' };
    // The bot first: a bot that is not a channel's admin may not read its members at all.
    let me: ChatMember;
    try {
      me = await this.bot.api.getChatMember(chat.id, this.bot.botInfo.id, signal());
    } catch (err) {
      return { ok: false, reason: answered('getChatMember', err) ? 'bot_not_admin' : 'unreachable' };
    }
    if (me.status !== 'administrator') return { ok: false, reason: 'bot_not_admin' };
    if (!me.can_post_messages) return { ok: false, reason: 'bot_cannot_post' };
    let user: ChatMember;
    try {
      user = await this.bot.api.getChatMember(chat.id, Number(userId), signal());
    } catch (err) {
      return { ok: false, reason: answered('getChatMember', err) ? 'user_not_admin' : 'unreachable' };
    }
    if (user.status !== 'creator' && user.status !== 'administrator') return { ok: false, reason: 'user_not_admin' };
    return { ok: true, chatId: String(chat.id), handle: chat.username ? `@${chat.username}` : handle };
  }

  /**
   * grammY retries a failed poll every 3 s and tells only its debug log; the operator hears once when
   * Telegram goes away and once when it is back, not every 3 s in between.
   */
  private pollOutcome(error: string | undefined): void {
    if (error === undefined) {
      if (this.failedPolls > 0) this.log.info({ failedPolls: this.failedPolls }, 'Telegram reachable again; polling resumed');
      this.failedPolls = 0;
    } else if (this.failedPolls++ === 0) {
      this.log.warn({ err: error }, 'Telegram getUpdates failed; retrying every 3 s until it answers');
    }
  }

  private warnFailed(method: string, err: unknown, chatId?: string): void {
    const outcome = classifyTelegramError(err);
    this.log.warn({ chatId, reason: outcome.ok ? 'ok' : outcome.reason, err: describeTelegramError(err) }, `Telegram ${method} failed`);
  }
}

/** Drops expired entries once a cache is full, and everything if they are all fresh: memory stays bounded. */
function prune<V extends { until: number }>(cache: Map<string, V>, now: number): void {
  if (cache.size < ADMIN_CACHE_MAX) return;
  for (const [k, v] of cache) if (v.until <= now) cache.delete(k);
  if (cache.size >= ADMIN_CACHE_MAX) cache.clear();
}
