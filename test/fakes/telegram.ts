import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Context } from 'grammy';

/**
 * A local Telegram Bot API server that the real grammY client talks to through `client.apiRoot`
 * (`/bot<token>/<method>`). It keeps an update queue with the real getUpdates semantics (offset confirms,
 * long-poll `timeout` held until an update arrives, one poller at a time, 409 while a webhook is set),
 * records what the bot sends, and lets a test program failures per method. In webhook mode it POSTs
 * updates to the bot with the `X-Telegram-Bot-Api-Secret-Token` header, as Telegram does.
 */

// grammY re-exports the Bot API types only through its context; deriving them keeps the builders honest.
export type Update = Context['update'];
export type Message = NonNullable<Update['message']>;
export type User = NonNullable<Message['from']>;
export type Chat = Message['chat'] | NonNullable<Update['channel_post']>['chat'];

type Json = Record<string, unknown>;

export interface ApiCall {
  method: string;
  at: number;
  payload: Json;
}

export interface SentMessage {
  at: number;
  message_id: number;
  chat_id: string;
  text: string;
  parse_mode?: string;
  reply_markup?: unknown;
  payload: Json;
}

export interface WebhookSetting {
  url: string;
  secret_token?: string;
  allowed_updates?: unknown;
  drop_pending_updates?: boolean;
}

export type MemberStatus = 'creator' | 'administrator' | 'member' | 'restricted' | 'left' | 'kicked';

export interface AdminRights {
  can_post_messages?: boolean;
}

export interface FailureOptions {
  times?: number;
  /** seconds, for 429 */
  retryAfter?: number;
  description?: string;
}

export interface FakeTelegramOptions {
  token?: string;
  botUsername?: string;
  botId?: number;
  now?: () => number;
}

const DEFAULT_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad Request: chat not found',
  401: 'Unauthorized',
  403: 'Forbidden: bot was blocked by the user',
  409: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
  429: 'Too Many Requests: retry after {s}',
  500: 'Internal Server Error',
};

export function tgUser(id: number, firstName: string, username?: string): User {
  return { id, is_bot: false, first_name: firstName, ...(username ? { username } : {}) };
}
export function privateChat(user: User): Chat {
  return { id: user.id, type: 'private', first_name: user.first_name, ...(user.username ? { username: user.username } : {}) };
}
export function groupChat(id: number, title: string, type: 'group' | 'supergroup' = 'supergroup'): Chat {
  return { id, type, title } as Chat;
}
export function channelChat(id: number, title: string, username?: string): Chat {
  return { id, type: 'channel', title, ...(username ? { username } : {}) };
}

/** What Telegram attaches to a message starting with "/": the command (with any @mention) as an entity. */
function commandEntities(text: string): Message['entities'] {
  if (!text.startsWith('/')) return undefined;
  const length = /^\S+/.exec(text)![0].length;
  return [{ type: 'bot_command', offset: 0, length }];
}

interface Waiter {
  offset: number;
  limit: number;
  res: http.ServerResponse;
  timer: NodeJS.Timeout;
}

export class FakeTelegram {
  apiRoot = '';
  port = 0;
  readonly token: string;
  readonly botUsername: string;
  readonly botId: number;
  readonly calls: ApiCall[] = [];
  readonly edits: Json[] = [];
  readonly callbackAnswers: Json[] = [];
  readonly commandSets: Json[] = [];
  readonly webhookSets: WebhookSetting[] = [];
  readonly webhookDeletes: Json[] = [];
  readonly deletedMessages: Json[] = [];
  /** results of the fake's own POSTs to the bot's webhook */
  readonly deliveries: Array<{ update_id: number; status: number }> = [];
  webhook: WebhookSetting | undefined;

  private readonly now: () => number;
  private readonly server = http.createServer((req, res) => void this.onRequest(req, res));
  private readonly sockets = new Set<Socket>();
  private readonly queue: Update[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly held = new Set<http.ServerResponse>();
  private readonly failures = new Map<string, Array<{ code: number | 'network'; opts: FailureOptions }>>();
  private readonly roles = new Map<string, Map<string, MemberStatus>>();
  /** "<chat>:<user>" → an administrator's rights that differ from the default (all allowed) */
  private readonly rights = new Map<string, AdminRights>();
  /** lowercased username → chat, for getChat("@name") */
  private readonly publicChats = new Map<string, Chat>();
  private readonly chats = new Map<string, Chat>();
  /** old group id → its supergroup's id, once upgraded (see migrateGroup) */
  private readonly migrated = new Map<string, number>();
  private readonly sentList: SentMessage[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly callListeners = new Set<(call: ApiCall) => void>();
  private nextUpdateId = 700_000_001;
  private nextMessageId = 1;
  private mode: 'serve' | 'blackhole' | 'refuse' = 'serve';
  private closed = false;

  constructor(opts: FakeTelegramOptions = {}) {
    this.token = opts.token ?? '123456789:AAFakeTokenForTestsOnly_abcdefghijklmn';
    this.botUsername = opts.botUsername ?? 'MaxFlashTestBot';
    this.botId = opts.botId ?? 123456789;
    this.now = opts.now ?? Date.now;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.apiRoot = `http://127.0.0.1:${this.port}`;
  }

  /** Answers pending long polls at once (so a client never waits on a dead fake), then cuts every socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) this.answerPoll(w, []);
    for (const res of this.held) res.destroy();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- controls ----

  /**
   * The next `times` calls of `method` fail with `code` (429 carries parameters.retry_after), or with
   * 'network' have their connection cut after the request arrived, as a dropped link does.
   */
  failNext(method: string, code: number | 'network', opts: FailureOptions = {}): void {
    const list = this.failures.get(method.toLowerCase()) ?? [];
    for (let i = 0; i < (opts.times ?? 1); i++) list.push({ code, opts });
    this.failures.set(method.toLowerCase(), list);
  }

  /**
   * Calls `listener` with every API call as it arrives, before a programmed failure is taken, so it may
   * program one (failNext) for the very call it sees: e.g. a benchmark making every 500th sendMessage a
   * 429, or every call for a few seconds (a flood limit). Returns a function that removes the listener.
   */
  onCall(listener: (call: ApiCall) => void): () => void {
    this.callListeners.add(listener);
    return () => void this.callListeners.delete(listener);
  }

  /** blackhole: requests are accepted and never answered; refuse: sockets are cut (a network error). */
  setMode(mode: 'serve' | 'blackhole' | 'refuse'): void {
    this.mode = mode;
  }

  /** `rights` apply to an administrator: e.g. { can_post_messages: false } for a channel admin who may not post */
  setRole(chatId: number | string, userId: number | string, status: MemberStatus, rights?: AdminRights): void {
    const chat = this.roles.get(String(chatId)) ?? new Map<string, MemberStatus>();
    chat.set(String(userId), status);
    this.roles.set(String(chatId), chat);
    if (rights) this.rights.set(`${chatId}:${userId}`, rights);
    else this.rights.delete(`${chatId}:${userId}`);
  }

  /**
   * Makes a chat with a public @username known, so getChat("@name") finds it (a channel, or a public group
   * for the "not a channel" case). As in Telegram, a channel's member list is readable only by its admins:
   * getChatMember there fails with 400 unless the bot is an administrator (setRole(chat, botId, …)).
   */
  addPublicChat(chat: Chat): Chat {
    if (!('username' in chat) || !chat.username) throw new Error('fake telegram: a public chat needs a username');
    this.chats.set(String(chat.id), chat);
    this.publicChats.set(chat.username.toLowerCase(), chat);
    return chat;
  }

  sent(): readonly SentMessage[] {
    return this.sentList;
  }

  callsOf(method: string): ApiCall[] {
    return this.calls.filter((c) => c.method.toLowerCase() === method.toLowerCase());
  }

  /** Updates queued and not yet confirmed by a getUpdates offset. */
  pending(): readonly Update[] {
    return this.queue;
  }

  /** The first sent message (already sent or still to come) matching, or a rejection listing what was sent. */
  waitForSent(predicate: (m: SentMessage) => boolean, timeoutMs = 5_000): Promise<SentMessage> {
    return this.waitFor(() => this.sentList.find(predicate), timeoutMs, () => `sent: ${JSON.stringify(this.sentList.map((m) => [m.chat_id, m.text]))}`);
  }

  /**
   * A user's message and the bot's answer to it: the first message the bot sends to that chat after it.
   * The bot handles updates one after another, so nothing else it says there can come in between.
   */
  ask(chat: Chat, from: User, text: string, extra: Partial<Message> = {}): Promise<SentMessage> {
    const before = this.sentList.length;
    this.userSays(chat, from, text, extra);
    return this.waitForSent((m) => m.chat_id === String(chat.id) && this.sentList.indexOf(m) >= before);
  }

  waitForCall(method: string, predicate: (c: ApiCall) => boolean = () => true, timeoutMs = 5_000): Promise<ApiCall> {
    return this.waitFor(() => this.callsOf(method).find(predicate), timeoutMs, () => `calls: ${this.calls.map((c) => c.method).join(', ')}`);
  }

  /** Queues an update for getUpdates, or POSTs it to the bot when a webhook is set (as Telegram does). */
  pushUpdate(update: Omit<Update, 'update_id'> & { update_id?: number }): Update {
    const full = { ...update, update_id: update.update_id ?? this.nextUpdateId++ } as Update;
    if (this.webhook) {
      const hook = this.webhook;
      void this.postWebhook(full, { secret: hook.secret_token ?? null }).then(
        ({ status }) => this.deliveries.push({ update_id: full.update_id, status }),
        () => this.deliveries.push({ update_id: full.update_id, status: 0 }),
      );
      return full;
    }
    this.queue.push(full);
    this.wakePollers();
    return full;
  }

  /** POSTs an update to the webhook URL; `secret: null` omits the header, a string overrides the one set. */
  async postWebhook(update: Update, opts: { secret?: string | null; url?: string } = {}): Promise<{ status: number; body: string }> {
    const url = opts.url ?? this.webhook?.url;
    if (!url) throw new Error('fake telegram: no webhook set and no url given');
    const secret = opts.secret === undefined ? this.webhook?.secret_token : opts.secret;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(secret != null ? { 'X-Telegram-Bot-Api-Secret-Token': secret } : {}) },
      body: JSON.stringify(update),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: await res.text() };
  }

  // ---- update builders (each pushes, and returns the update) ----

  userSays(chat: Chat, from: User, text: string, extra: Partial<Message> = {}): Update {
    return this.pushUpdate(this.messageUpdate(chat, from, text, extra));
  }

  /** A text message update with its id, not pushed anywhere (e.g. to POST with a wrong secret). */
  messageUpdate(chat: Chat, from: User, text: string, extra: Partial<Message> = {}): Update {
    const entities = commandEntities(text);
    return { update_id: this.nextUpdateId++, message: this.message(chat, from, { text, ...(entities ? { entities } : {}), ...extra }) } as Update;
  }

  groupSays(chat: Chat, from: User, text: string, extra: Partial<Message> = {}): Update {
    return this.userSays(chat, from, text, extra);
  }

  channelPost(chat: Chat, text: string): Update {
    this.chats.set(String(chat.id), chat);
    const entities = commandEntities(text);
    return this.pushUpdate({
      channel_post: { message_id: this.nextMessageId++, date: this.unixNow(), chat, sender_chat: chat, text, ...(entities ? { entities } : {}) } as NonNullable<Update['channel_post']>,
    });
  }

  userEdits(chat: Chat, from: User, text: string): Update {
    const entities = commandEntities(text);
    const base = this.message(chat, from, { text, ...(entities ? { entities } : {}) });
    return this.pushUpdate({ edited_message: { ...base, edit_date: this.unixNow() } as NonNullable<Update['edited_message']> });
  }

  userSendsSticker(chat: Chat, from: User): Update {
    const sticker = { file_id: 'CAACAgIAAxkBAAE', file_unique_id: 'AgADfake', type: 'regular', width: 512, height: 512, is_animated: false, is_video: false, emoji: '🚀' };
    return this.pushUpdate({ message: this.message(chat, from, { sticker } as Partial<Message>) });
  }

  userSendsPhoto(chat: Chat, from: User, caption?: string): Update {
    const photo = [{ file_id: 'AgACAgIAAxkBAAE', file_unique_id: 'AQADfake', width: 90, height: 90 }];
    return this.pushUpdate({ message: this.message(chat, from, { photo, ...(caption ? { caption } : {}) }) });
  }

  userForwards(chat: Chat, from: User, text: string, originalSender: User): Update {
    const forward_origin = { type: 'user' as const, date: this.unixNow() - 60, sender_user: originalSender };
    return this.userSays(chat, from, text, { forward_origin });
  }

  callback(chat: Chat, from: User, data: string, messageId?: number): Update {
    this.chats.set(String(chat.id), chat);
    const message = { message_id: messageId ?? this.nextMessageId++, date: this.unixNow(), chat, text: '…' };
    return this.pushUpdate({
      callback_query: { id: String(this.nextUpdateId * 10), from, chat_instance: `ci${chat.id}`, data, message } as NonNullable<Update['callback_query']>,
    });
  }

  /**
   * The bot's own membership changed, as Telegram reports it: added or removed in a group ("left" /
   * "kicked"), or blocked ("kicked") and unblocked ("member") in a private chat. "restricted" is a muted bot.
   */
  botMembership(chat: Chat, from: User, oldStatus: MemberStatus, newStatus: MemberStatus): Update {
    this.chats.set(String(chat.id), chat);
    const user = { id: this.botId, is_bot: true, first_name: 'MaxFlash', username: this.botUsername };
    const member = (status: MemberStatus): Json =>
      status === 'restricted'
        ? { status, user, is_member: true, can_send_messages: false, until_date: 0 }
        : { ...this.member(String(this.botId), status), user, ...(status === 'kicked' ? { until_date: 0 } : {}) };
    return this.pushUpdate({
      my_chat_member: { chat, from, date: this.unixNow(), old_chat_member: member(oldStatus), new_chat_member: member(newStatus) } as unknown as NonNullable<Update['my_chat_member']>,
    });
  }

  /**
   * Upgrades a group to a supergroup under `newId`, as Telegram does: from now on a sendMessage to the
   * old id fails with 400 and parameters.migrate_to_chat_id. With `announce` (default) the bot also gets
   * the two service messages: migrate_to_chat_id in the old group, then migrate_from_chat_id in the new
   * supergroup. Returns the new supergroup chat.
   */
  migrateGroup(group: Chat, newId: number, from: User, opts: { announce?: boolean } = {}): Chat {
    const title = 'title' in group && typeof group.title === 'string' ? group.title : `Group ${group.id}`;
    const supergroup = groupChat(newId, title, 'supergroup');
    this.migrated.set(String(group.id), newId);
    this.chats.set(String(newId), supergroup);
    if (opts.announce ?? true) {
      this.pushUpdate({ message: this.message(group, from, { migrate_to_chat_id: newId }) });
      this.pushUpdate({ message: this.message(supergroup, from, { migrate_from_chat_id: Number(group.id) }) });
    }
    return supergroup;
  }

  // ---- transport ----

  private message(chat: Chat, from: User, fields: Partial<Message>): Message {
    this.chats.set(String(chat.id), chat);
    return { message_id: this.nextMessageId++, date: this.unixNow(), chat, from, ...fields } as Message;
  }

  private unixNow(): number {
    return Math.floor(this.now() / 1000);
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.mode === 'refuse') return void req.socket.destroy();
    const url = new URL(req.url ?? '/', 'http://fake');
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    let payload: Json;
    try {
      payload = { ...Object.fromEntries(url.searchParams), ...(await readBody(req)) };
    } catch (err) {
      return this.error(res, 400, `Bad Request: ${(err as Error).message}`);
    }
    if (this.mode === 'blackhole') {
      this.held.add(res);
      res.once('close', () => this.held.delete(res));
      return;
    }
    if (!match) return this.error(res, 404, 'Not Found');
    if (match[1] !== this.token) return this.error(res, 401, 'Unauthorized');
    const method = match[2]!;
    const call: ApiCall = { method, at: this.now(), payload };
    this.calls.push(call);
    for (const listener of [...this.callListeners]) listener(call);
    this.notify();
    const failure = this.failures.get(method.toLowerCase())?.shift();
    if (failure) {
      const { code, opts } = failure;
      if (code === 'network') return void req.socket.destroy();
      const description = (opts.description ?? DEFAULT_DESCRIPTIONS[code] ?? `Error ${code}`).replace('{s}', String(opts.retryAfter ?? 1));
      return this.error(res, code, description, code === 429 ? { retry_after: opts.retryAfter ?? 1 } : undefined);
    }
    this.handle(method.toLowerCase(), payload, res);
  }

  private handle(method: string, p: Json, res: http.ServerResponse): void {
    const ok = (result: unknown): void => send(res, 200, { ok: true, result });
    switch (method) {
      case 'getme':
        return ok({
          id: this.botId, is_bot: true, first_name: 'MaxFlash', username: this.botUsername, can_join_groups: true,
          can_read_all_group_messages: false, supports_inline_queries: false, can_connect_to_business: false, has_main_web_app: false,
        });
      case 'getupdates':
        return this.getUpdates(p, res);
      case 'sendmessage': {
        const text = typeof p['text'] === 'string' ? p['text'] : '';
        if (p['chat_id'] === undefined) return this.error(res, 400, 'Bad Request: chat_id is empty');
        if (text.trim() === '') return this.error(res, 400, 'Bad Request: message text is empty');
        if (text.length > 4096) return this.error(res, 400, 'Bad Request: message is too long');
        const movedTo = this.migrated.get(String(p['chat_id']));
        if (movedTo !== undefined) return this.error(res, 400, 'Bad Request: group chat was upgraded to a supergroup chat', { migrate_to_chat_id: movedTo });
        const m: SentMessage = { at: this.now(), message_id: this.nextMessageId++, chat_id: String(p['chat_id']), text, payload: p };
        if (typeof p['parse_mode'] === 'string') m.parse_mode = p['parse_mode'];
        if (p['reply_markup'] !== undefined) m.reply_markup = p['reply_markup'];
        this.sentList.push(m);
        this.notify();
        return ok({ message_id: m.message_id, date: this.unixNow(), chat: this.chatFor(m.chat_id), from: { id: this.botId, is_bot: true, first_name: 'MaxFlash', username: this.botUsername }, text });
      }
      case 'editmessagetext':
        this.edits.push(p);
        if (p['inline_message_id'] !== undefined) return ok(true);
        return ok({ message_id: Number(p['message_id']), date: this.unixNow(), edit_date: this.unixNow(), chat: this.chatFor(String(p['chat_id'])), text: p['text'] });
      case 'answercallbackquery':
        this.callbackAnswers.push(p);
        return ok(true);
      case 'setmycommands':
        this.commandSets.push(p);
        return ok(true);
      case 'getmycommands':
        return ok((this.commandSets.at(-1)?.['commands'] as unknown) ?? []);
      case 'deletemessage':
        this.deletedMessages.push(p);
        return ok(true);
      case 'deletewebhook':
        this.webhookDeletes.push(p);
        this.webhook = undefined;
        if (p['drop_pending_updates'] === true) this.queue.length = 0;
        return ok(true);
      case 'setwebhook': {
        const setting: WebhookSetting = { url: String(p['url'] ?? '') };
        if (typeof p['secret_token'] === 'string') setting.secret_token = p['secret_token'];
        if (p['allowed_updates'] !== undefined) setting.allowed_updates = p['allowed_updates'];
        if (typeof p['drop_pending_updates'] === 'boolean') setting.drop_pending_updates = p['drop_pending_updates'];
        if (!/^https?:\/\//.test(setting.url)) return this.error(res, 400, 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook');
        this.webhookSets.push(setting);
        this.webhook = setting;
        for (const w of this.waiters) this.answerError(w, 409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
        return ok(true);
      }
      case 'getwebhookinfo':
        return ok({ url: this.webhook?.url ?? '', has_custom_certificate: false, pending_update_count: this.queue.length });
      case 'getchat': {
        const wanted = String(p['chat_id'] ?? '');
        const chat = wanted.startsWith('@') ? this.publicChats.get(wanted.slice(1).toLowerCase()) : this.chats.get(wanted);
        return chat ? ok(chat) : this.error(res, 400, 'Bad Request: chat not found');
      }
      case 'getchatmember': {
        const chatId = String(p['chat_id']);
        const userId = String(p['user_id']);
        const isChannel = this.chats.get(chatId)?.type === 'channel';
        const roleOf = (id: string): MemberStatus | undefined => this.roles.get(chatId)?.get(id);
        if (isChannel && userId !== String(this.botId) && roleOf(String(this.botId)) !== 'administrator') {
          return this.error(res, 400, 'Bad Request: member list is inaccessible');
        }
        const status = roleOf(userId) ?? (isChannel ? 'left' : 'member');
        return ok(this.member(userId, status, isChannel ? chatId : undefined));
      }
      case 'getchatadministrators': {
        const admins = [...(this.roles.get(String(p['chat_id'])) ?? new Map<string, MemberStatus>())].filter(([, s]) => s === 'creator' || s === 'administrator');
        return ok(admins.map(([id, s]) => this.member(id, s)));
      }
      default:
        return this.error(res, 404, 'Not Found: method not found');
    }
  }

  /** `channelId` set: the member of a channel, whose administrators carry the channel-only rights */
  private member(userId: string, status: MemberStatus, channelId?: string): Json {
    const user = { id: Number(userId), is_bot: false, first_name: `User ${userId}` };
    if (status === 'creator') return { status, user, is_anonymous: false };
    if (status === 'administrator') {
      const base = { status, user, can_be_edited: false, is_anonymous: false, can_manage_chat: true, can_delete_messages: true, can_restrict_members: true, can_promote_members: false, can_change_info: true, can_invite_users: true };
      if (channelId === undefined) return base;
      const rights = this.rights.get(`${channelId}:${userId}`);
      return { ...base, can_post_messages: rights?.can_post_messages ?? true, can_edit_messages: true };
    }
    return { status, user };
  }

  private chatFor(chatId: string): Chat {
    const known = this.chats.get(chatId);
    if (known) return known;
    const id = Number(chatId);
    if (id > 0) return { id, type: 'private', first_name: `User ${id}` };
    return String(id).startsWith('-100') ? { id, type: 'supergroup', title: `Group ${id}` } : { id, type: 'group', title: `Group ${id}` };
  }

  private getUpdates(p: Json, res: http.ServerResponse): void {
    if (this.webhook) return this.error(res, 409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    const offset = Number(p['offset'] ?? 0);
    const limit = Math.min(100, Math.max(1, Number(p['limit'] ?? 100)));
    const timeout = Math.max(0, Number(p['timeout'] ?? 0));
    // An update is confirmed (forgotten) once getUpdates is called with an offset above its id.
    if (offset > 0) while (this.queue.length > 0 && this.queue[0]!.update_id < offset) this.queue.shift();
    if (offset < 0) this.queue.splice(0, Math.max(0, this.queue.length + offset));
    // Telegram serves one poller per bot: a newer request ends the older one with 409.
    for (const w of this.waiters) this.answerError(w, 409, DEFAULT_DESCRIPTIONS[409]!);
    const ready = this.ready(offset, limit);
    if (ready.length > 0 || timeout === 0 || this.closed) return send(res, 200, { ok: true, result: ready });
    const waiter: Waiter = { offset, limit, res, timer: setTimeout(() => this.answerPoll(waiter, []), timeout * 1000) };
    this.waiters.add(waiter);
    // The client gave up (grammY aborts the poll on stop): forget it, or a later update would be "sent" to nobody.
    res.once('close', () => {
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
    });
  }

  private ready(offset: number, limit: number): Update[] {
    return this.queue.filter((u) => u.update_id >= offset).slice(0, limit);
  }

  private wakePollers(): void {
    for (const w of this.waiters) {
      const ready = this.ready(w.offset, w.limit);
      if (ready.length > 0) this.answerPoll(w, ready);
    }
  }

  private answerPoll(w: Waiter, result: Update[]): void {
    clearTimeout(w.timer);
    this.waiters.delete(w);
    if (!w.res.writableEnded) send(w.res, 200, { ok: true, result });
  }

  private answerError(w: Waiter, code: number, description: string): void {
    clearTimeout(w.timer);
    this.waiters.delete(w);
    if (!w.res.writableEnded) this.error(w.res, code, description);
  }

  private error(res: http.ServerResponse, code: number, description: string, parameters?: Json): void {
    send(res, code, { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) });
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  private waitFor<T>(find: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> {
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const listener = (): void => {
        const hit = find();
        if (hit === undefined) return;
        cleanup();
        resolve(hit);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake telegram: nothing matched within ${timeoutMs} ms; ${describe()}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
    });
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** JSON or urlencoded bodies (grammY uses multipart only to upload files, which nothing here does). */
async function readBody(req: http.IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (raw === '') return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('body must be a JSON object');
    return parsed as Json;
  }
  if (type === 'application/x-www-form-urlencoded') {
    const out: Json = {};
    // Form fields carry objects (reply_markup, commands, allowed_updates) as JSON-serialized strings.
    for (const [k, v] of new URLSearchParams(raw)) out[k] = /^[[{]/.test(v) ? JSON.parse(v) : v === 'true' ? true : v === 'false' ? false : v;
    return out;
  }
  throw new Error(`unsupported content type "${type}" in this fake`);
}

/** Starts the fake on 127.0.0.1 (port 0 = any free port). */
export async function startFakeTelegram(opts: FakeTelegramOptions & { port?: number } = {}): Promise<FakeTelegram> {
  const fake = new FakeTelegram(opts);
  await fake.listen(opts.port ?? 0);
  return fake;
}
