import type { PriceTick } from '../market/types.js';
import type { AlertPayload } from '../delivery/notification.js';
import type { ButtonOutcome, ChannelView, CommandInfo, ManagedSubject, Reply, RuleView, WatchEntry, WatchMove } from './commands/types.js';
import type { RuleSpec } from '../alerts/types.js';
import { formatDuration } from '../alerts/numbers.js';

/**
 * Prices keep enough significant digits to show a move on any pair, from BTC at 97,234.12 to a memecoin
 * at 0.00001234, and never switch to exponent notation.
 */
export function formatPrice(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1000) return value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  if (abs >= 1) return value.toLocaleString('en-US', { maximumFractionDigits: 4 });
  return value.toLocaleString('en-US', { maximumSignificantDigits: 6 });
}

export function formatPercent(value: number): string {
  const sign = value > 0 ? '+' : value < 0 ? '−' : '±';
  return `${sign}${Math.abs(value).toFixed(2)}%`;
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

const SOURCE_TEXT: Record<PriceTick['source'], string> = {
  stream: 'live stream',
  poll: 'REST polling (stream down)',
  gapfill: 'gap-fill',
  rest: 'REST snapshot; live stream starting',
};

function renderPrice(tick: PriceTick, fromRest: boolean, now: number): string {
  const quote = tick.pair.split('/')[1] ?? '';
  const change = tick.changePct24h === undefined ? '' : `  ${tick.changePct24h >= 0 ? '▲' : '▼'} ${formatPercent(tick.changePct24h)} 24h`;
  const source = fromRest ? SOURCE_TEXT.rest : SOURCE_TEXT[tick.source];
  return `${tick.pair} on ${tick.exchange}: ${formatPrice(tick.last)} ${quote}${change}\nquote ${formatAge(now - tick.exchangeTs)} · ${source}`;
}

function renderHelp(commands: readonly CommandInfo[], topic?: CommandInfo): string {
  if (topic) return [`${topic.usage}`, topic.summary, '', 'Examples:', ...topic.examples.map((e) => `  ${e}`)].join('\n');
  return [
    'MaxFlash: live crypto prices and alerts.',
    '',
    ...commands.map((c) => `${c.usage} — ${c.summary}`),
    '',
    'Try: /price BTC/USDT',
  ].join('\n');
}

/** Plain-text rendering, used by the terminal chat and as the base for platform formats. */
export function renderReply(reply: Reply): string | null {
  switch (reply.kind) {
    case 'price':
      return renderPrice(reply.tick, reply.fromRest, reply.now);
    case 'help':
      return renderHelp(reply.commands, reply.topic);
    case 'error':
      return reply.example ? `${reply.message}\nExample: ${reply.example}` : reply.message;
    case 'unknown_command':
      return reply.suggestion
        ? `Unknown command /${reply.name}. Did you mean /${reply.suggestion}? /help lists them all.`
        : `Unknown command /${reply.name}. /help lists what I can do.`;
    case 'not_a_command':
      return 'Commands start with a slash, e.g. /price BTC/USDT. Type /help for the list.';
    case 'alert_created':
      return renderCreated(reply.rule, reply.spec, reply.tick, reply.holdsNow, reply.channel);
    case 'alert_list':
      if (reply.channel) {
        return reply.rules.length === 0
          ? `No active alerts for ${reply.channel}. Set one with /alert BTC/USDT > 100000 to ${reply.channel}`
          : [`Alerts posted to ${reply.channel} (${reply.rules.length} of ${reply.max}):`, ...reply.rules.map(ruleLine), '', 'Delete one with /delete <id>.'].join('\n');
      }
      return reply.rules.length === 0
        ? 'No active alerts in this chat. Set one with /alert BTC/USDT > 100000'
        : [`Alerts in this chat (${reply.rules.length} of ${reply.max}):`, ...reply.rules.map(ruleLine), '', 'Delete one with /delete <id>.'].join('\n');
    case 'alerts_deleted':
      if (reply.rules.length === 0) return reply.channel ? `${reply.channel} had no alerts to delete.` : 'There were no alerts to delete.';
      if (reply.all) return `Deleted all ${reply.rules.length} alerts of ${reply.channel ?? 'this chat'}.`;
      return `Deleted alert #${reply.rules[0]!.id}${reply.channel ? ` of ${reply.channel}` : ''}: ${reply.rules[0]!.condition}.`;
    case 'watch_added':
      return renderWatchAdded(reply);
    case 'watch_removed':
      return `Stopped watching ${reply.watch.pair} on ${reply.watch.exchange}${reply.channel ? ` for ${reply.channel}` : ''}.`;
    case 'watchlist':
      return renderWatchlist(reply.entries, reply.max, reply.now, reply.channel);
    case 'channel_linked':
      return [
        reply.already ? `${reply.channel} was linked already; you and I are still its admins.` : `✅ ${reply.channel} is linked. You and I are its admins, so I can post there for you.`,
        `Post alerts there with /alert SOL/USDT > 200 to ${reply.channel}, or /watch BTC/USDT to ${reply.channel}. /alerts to ${reply.channel} lists them.`,
      ].join('\n');
    case 'channel_list':
      return renderChannels(reply.channels);
    case 'channel_unlinked': {
      const d = reply.deleted;
      if (!d) return `Unlinked ${reply.channel}. Its alerts and watches stay: another chat still has it linked.`;
      if (d.alerts === 0 && d.watches === 0) return `Unlinked ${reply.channel}.`;
      return `Unlinked ${reply.channel}. No chat links it any more, so its ${count(d.alerts, 'alert')} and ${count(d.watches, 'watch', 'watches')} were deleted.`;
    }
    case 'admins_only':
      return adminsOnly(reply.subject);
    case 'timezone':
      if (reply.timezone === null) return reply.changed ? 'Times in messages are now in UTC only.' : 'Times in messages are in UTC. Set your own with /timezone Europe/Berlin.';
      return `${reply.changed ? 'Timezone set to' : 'Timezone:'} ${reply.timezone} (now ${localTime(reply.now, reply.timezone)}). Alerts show this time beside UTC.`;
    case 'webhook_set':
      return [
        `Webhook set: ${reply.url}`,
        `Secret (shown once — store it now): ${reply.secret}`,
        'Every alert is POSTed there as JSON. To verify one, compute the HMAC-SHA256 of the raw body keyed with this secret: the x-maxflash-signature header is "sha256=" and that hex. x-maxflash-delivery is the same on a retried delivery.',
        'Lost the secret? Send /webhook with the URL again for a new one. /webhook off removes it.',
      ].join('\n');
    case 'webhook_status': {
      const hook = reply.webhook;
      if (!hook) return 'No webhook. With /webhook https://example.org/hook every alert is also POSTed there as signed JSON.';
      const health = hook.lastError ? `Last error: ${hook.lastError}${hook.failures > 0 ? ` (${hook.failures} failed in a row)` : ''}` : 'No delivery errors.';
      return [`Webhook: ${hook.url} (${hook.active ? 'active' : 'inactive'})`, health, 'The secret is shown only when the webhook is set. /webhook off removes it.'].join('\n');
    }
    case 'webhook_removed':
      return reply.removed ? 'Webhook removed; alerts go to this chat only.' : 'This chat has no webhook.';
  }
}

/** "2026-11-25 17:04" in an IANA timezone; the zone was validated when it was set. */
export function localTime(at: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}

function adminsOnly(subject: ManagedSubject, where: 'group' | 'channel' = 'group'): string {
  return `Only this ${where}'s admins can change its ${subject}.`;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function renderChannels(channels: readonly ChannelView[]): string {
  if (channels.length === 0) return 'No channels linked. Make me an admin of your channel (with "Post messages"), then send /channel add @yourchannel.';
  return [
    'Linked channels:',
    ...channels.map((c) => `${c.handle}: ${count(c.alerts, 'alert')}, ${count(c.watches, 'watch', 'watches')}`),
    '',
    'Post to one with /alert … to @channel or /watch … to @channel; /channel remove @channel unlinks it.',
  ].join('\n');
}

/** The short notice a button press answers with (a Telegram toast holds 200 characters); undefined for none. */
export function renderButtonOutcome(o: ButtonOutcome): string | undefined {
  switch (o.kind) {
    case 'deleted':
      return `Deleted alert #${o.rule.id}: ${o.rule.condition}.`;
    case 'rearmed':
      return `Alert #${o.ruleId} is on again.${o.holdsNow ? ' Its condition holds already, so it fires with the next price.' : ''}`;
    case 'already_on':
      return `Alert #${o.ruleId} is on already.`;
    case 'snoozed':
      return `Alert #${o.ruleId} is snoozed until ${clockTime(o.until.getTime(), o.now)}.`;
    case 'gone':
      return 'This alert no longer exists.';
    case 'admins_only':
      return adminsOnly(o.subject, o.where);
    case 'error':
      return o.message;
    case 'unknown':
      return undefined;
  }
}

const ALERT_SOURCE_NOTE: Partial<Record<PriceTick['source'], string>> = {
  poll: ' (price from REST polling while the stream was down)',
  gapfill: ' (reached while the stream was down; found when it came back)',
};

/** The message a fired alert sends. Times are UTC until chats can set a timezone. */
export function renderAlertMessage(p: AlertPayload, timeZone?: string | null): string {
  const quote = p.pair.split('/')[1] ?? '';
  const when = new Date(p.at).toISOString().replace('T', ' ').slice(0, 19);
  const local = timeZone ? ` (${localTime(p.at, timeZone)} ${timeZone})` : '';
  const lines = [
    `🔔 ${p.condition}`,
    `${p.pair} is ${formatPrice(p.price)} ${quote} on ${p.exchange}${ALERT_SOURCE_NOTE[p.source] ?? ''}`,
    `${when} UTC${local} · alert #${p.ruleId}${p.final ? '' : ' (repeating)'}`,
  ];
  if (p.note) lines.push(`Note: ${p.note}`);
  return lines.join('\n');
}

function ruleLine(r: RuleView): string {
  const parts = [`#${r.id} ${r.condition}`, `on ${r.exchange}`];
  if (r.repeatEverySec !== undefined) parts.push(`every ${formatDuration(r.repeatEverySec)}`);
  if (r.expiresAt) parts.push(`until ${r.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  if (r.paused) parts.push('paused');
  return parts.join(' · ') + (r.note ? ` — ${r.note}` : '');
}

/** Where the price stands against a level rule, as users read it: "6.78% below the level". */
function distance(spec: RuleSpec, price: number): string | undefined {
  const c = spec.condition;
  if (c.kind !== 'level' && c.kind !== 'crosses') return undefined;
  const level = Number(c.price);
  if (price === level) return 'exactly at the level';
  const pct = (Math.abs(level - price) / price) * 100;
  return `${pct.toFixed(pct < 0.1 ? 3 : 2)}% ${price < level ? 'below' : 'above'} the level`;
}

function renderCreated(rule: RuleView, spec: RuleSpec, tick: PriceTick, holdsNow: boolean, channel?: string): string {
  const quote = tick.pair.split('/')[1] ?? '';
  const away = distance(spec, tick.last);
  const lines = [`✅ Alert #${rule.id}: ${rule.condition} (${rule.exchange})`, `Now ${formatPrice(tick.last)} ${quote}${away ? `, ${away}` : ''}.`];
  if (holdsNow) lines.push('The condition already holds, so it fires with the next price.');
  const list = channel ? `/alerts to ${channel}` : '/alerts';
  lines.push(rule.repeatEverySec !== undefined ? `Repeats at most every ${formatDuration(rule.repeatEverySec)}, after the price moves back.` : `Fires once. ${list} lists it, /delete ${rule.id} removes it.`);
  if (channel) lines.push(`Posts to ${channel}.`);
  return lines.join('\n');
}

/** "14:02 UTC" when `at` is on the same UTC day, else with the date: the reader knows which day it is. */
function clockTime(ms: number, at: number): string {
  const iso = new Date(ms).toISOString();
  const sameDay = iso.slice(0, 10) === new Date(at).toISOString().slice(0, 10);
  return `${sameDay ? '' : `${iso.slice(0, 10)} `}${iso.slice(11, 16)} UTC`;
}

/** The message a watch sends: "📈 BTC/USDT +3.12% to 101,234.50 USDT on binance (from 98,170.00 since 14:02 UTC)". */
export function renderWatchMessage(m: WatchMove): string {
  const quote = m.pair.split('/')[1] ?? '';
  const pct = ((m.price - m.from) / m.from) * 100;
  const icon = m.price >= m.from ? '📈' : '📉';
  const since = `from ${formatPrice(m.from)} since ${clockTime(m.since, m.at)}`;
  return `${icon} ${m.pair} ${formatPercent(pct)} to ${formatPrice(m.price)} ${quote} on ${m.exchange} (${since})${ALERT_SOURCE_NOTE[m.source] ?? ''}`;
}

function renderWatchAdded(r: Extract<Reply, { kind: 'watch_added' }>): string {
  const { watch: w, tick } = r;
  const quote = w.pair.split('/')[1] ?? '';
  const now = `Now ${formatPrice(tick.last)} ${quote}`;
  if (r.channel) {
    const lead = r.updated ? `${w.pair} on ${w.exchange} is watched for ${r.channel} at ${w.movePct}%` : `👀 Watching ${w.pair} on ${w.exchange} for ${r.channel}: a message there each time it moves ${w.movePct}% either way`;
    return [`${lead}.`, `${now}. /watchlist to ${r.channel} shows its pairs, /unwatch ${w.pair} to ${r.channel} stops this one.`].join('\n');
  }
  if (!r.updated) {
    return [
      `👀 Watching ${w.pair} on ${w.exchange}: a message each time it moves ${w.movePct}% either way.`,
      `${now}. ${r.count} of ${r.max} pairs watched; /watchlist shows them, /unwatch ${w.pair} stops this one.`,
    ].join('\n');
  }
  if (r.previousPct === undefined || r.previousPct === w.movePct) {
    return [`${w.pair} on ${w.exchange} is already on the watchlist at ${w.movePct}%; nothing changed.`, `${now}. /unwatch ${w.pair} stops it.`].join('\n');
  }
  const from = w.referencePrice === undefined ? '' : ` Moves still count from ${formatPrice(w.referencePrice)} ${quote} (since ${clockTime(w.since.getTime(), tick.exchangeTs)}).`;
  return [`✏️ ${w.pair} on ${w.exchange} was already on the watchlist: threshold changed from ${r.previousPct}% to ${w.movePct}%.`, `${now}.${from}`].join('\n');
}

const WATCH_SOURCE: Record<PriceTick['source'], string> = { stream: 'live stream', poll: 'polling', gapfill: 'gap-fill', rest: 'REST snapshot' };

function watchLine(e: WatchEntry, now: number): string {
  const w = e.watch;
  const head = `${w.pair} on ${w.exchange}:`;
  const threshold = `±${w.movePct}%`;
  if (!e.tick) return `${head} no price right now · ${threshold}`;
  const t = e.tick;
  const quote = w.pair.split('/')[1] ?? '';
  const change = t.changePct24h === undefined ? '' : ` ${t.changePct24h >= 0 ? '▲' : '▼'} ${formatPercent(t.changePct24h)} 24h`;
  const source = e.fromRest ? WATCH_SOURCE.rest : WATCH_SOURCE[t.source];
  // a cached price from a stream that has since gone quiet must not pass for a live one
  const age = now - t.exchangeTs > 60_000 ? ` (${formatAge(now - t.exchangeTs)})` : '';
  return `${head} ${formatPrice(t.last)} ${quote}${change} · ${source}${age} · ${threshold}`;
}

function renderWatchlist(entries: readonly WatchEntry[], max: number, now: number, channel?: string): string {
  if (entries.length === 0) {
    return channel ? `Nothing on ${channel}'s watchlist yet. Try /watch BTC/USDT to ${channel}.` : "Nothing on this chat's watchlist yet. Try /watch BTC/USDT for a message after every 3% move.";
  }
  return [
    `${channel ? `Watchlist of ${channel}` : 'Watchlist'} (${entries.length} of ${max}); a message after each move of ± the threshold:`,
    ...entries.map((e) => watchLine(e, now)),
    '',
    'Change a threshold with /watch <pair> <percent>, remove one with /unwatch <pair>.',
  ].join('\n');
}
