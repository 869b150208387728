import type { PriceTick } from '../market/types.js';
import type { AlertPayload } from '../delivery/notification.js';
import type { ButtonOutcome, ChannelView, CommandInfo, Reply, RuleView, WatchEntry, WatchMove } from './commands/types.js';
import type { RuleCondition, RuleSpec } from '../alerts/types.js';
import { groupDigits } from '../alerts/numbers.js';
import { formatDurationIn, msg, render, t, type Lang, type MessageKey } from '../i18n/index.js';

/**
 * Reply values → text in one language. Every word comes from the catalogues (src/i18n); prices, pairs,
 * exchange ids and commands are put in as they are, so they read the same in every language.
 */

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

export function formatAge(lang: Lang, ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return t(lang, 'age.justNow');
  if (s < 60) return t(lang, 'age.seconds', { n: s });
  const m = Math.round(s / 60);
  if (m < 60) return t(lang, 'age.minutes', { n: m });
  const h = Math.round(m / 60);
  if (h < 48) return t(lang, 'age.hours', { n: h });
  return t(lang, 'age.days', { n: Math.round(h / 24) });
}

const SOURCE_KEY = {
  stream: 'source.stream',
  poll: 'source.poll',
  gapfill: 'source.gapfill',
  rest: 'source.rest',
} as const satisfies Record<PriceTick['source'], MessageKey>;

const quoteOf = (pair: string): string => pair.split('/')[1] ?? '';

function change24h(lang: Lang, changePct24h: number | undefined): string | undefined {
  return changePct24h === undefined ? undefined : t(lang, 'price.change24h', { arrow: changePct24h >= 0 ? '▲' : '▼', pct: formatPercent(changePct24h) });
}

function renderPrice(lang: Lang, tick: PriceTick, fromRest: boolean, now: number): string {
  const change = change24h(lang, tick.changePct24h);
  const line = t(lang, 'price.line', { pair: tick.pair, exchange: tick.exchange, price: formatPrice(tick.last), quote: quoteOf(tick.pair) });
  const source = t(lang, fromRest ? SOURCE_KEY.rest : SOURCE_KEY[tick.source]);
  return `${line}${change ? `  ${change}` : ''}\n${t(lang, 'price.age', { age: formatAge(lang, now - tick.exchangeTs), source })}`;
}

function renderHelp(lang: Lang, commands: readonly CommandInfo[], topic?: CommandInfo): string {
  const say = (key: MessageKey): string => render(lang, { key });
  if (topic) return [say(topic.usage), say(topic.summary), '', t(lang, 'help.examples'), ...topic.examples.map((e) => `  ${e}`)].join('\n');
  return [t(lang, 'help.intro'), '', ...commands.map((c) => `${say(c.usage)} — ${say(c.summary)}`), '', t(lang, 'help.try')].join('\n');
}

/** Plain-text rendering in a language, used by the terminal chat and as the base for platform formats. */
export function renderReply(reply: Reply, lang: Lang): string | null {
  switch (reply.kind) {
    case 'price':
      return renderPrice(lang, reply.tick, reply.fromRest, reply.now);
    case 'help':
      return renderHelp(lang, reply.commands, reply.topic);
    case 'error': {
      const text = render(lang, reply.text);
      return reply.example ? `${text}\n${t(lang, 'reply.example', { example: reply.example })}` : text;
    }
    case 'unknown_command':
      return reply.suggestion
        ? t(lang, 'reply.unknownCommandSuggest', { name: reply.name, suggestion: reply.suggestion })
        : t(lang, 'reply.unknownCommand', { name: reply.name });
    case 'not_a_command':
      return t(lang, 'reply.notACommand');
    case 'alert_created':
      return renderCreated(lang, reply.rule, reply.spec, reply.tick, reply.holdsNow, reply.channel);
    case 'alert_list':
      if (reply.channel) {
        const channel = reply.channel;
        return reply.rules.length === 0
          ? t(lang, 'alerts.noneChannel', { channel })
          : [t(lang, 'alerts.headerChannel', { channel, count: reply.rules.length, max: reply.max }), ...reply.rules.map((r) => ruleLine(lang, r)), '', t(lang, 'alerts.footer')].join('\n');
      }
      return reply.rules.length === 0
        ? t(lang, 'alerts.none')
        : [t(lang, 'alerts.header', { count: reply.rules.length, max: reply.max }), ...reply.rules.map((r) => ruleLine(lang, r)), '', t(lang, 'alerts.footer')].join('\n');
    case 'alerts_deleted':
      if (reply.channel) {
        const channel = reply.channel;
        if (reply.rules.length === 0) return t(lang, 'alerts.deletedNoneChannel', { channel });
        return reply.all ? t(lang, 'alerts.deletedAllChannel', { channel, count: reply.rules.length }) : deletedOne(lang, reply.rules[0]!, channel);
      }
      if (reply.rules.length === 0) return t(lang, 'alerts.deletedNone');
      return reply.all ? t(lang, 'alerts.deletedAll', { count: reply.rules.length }) : deletedOne(lang, reply.rules[0]!);
    case 'watch_added':
      return renderWatchAdded(lang, reply);
    case 'watch_removed':
      return reply.channel
        ? t(lang, 'watch.removedChannel', { pair: reply.watch.pair, exchange: reply.watch.exchange, channel: reply.channel })
        : t(lang, 'watch.removed', { pair: reply.watch.pair, exchange: reply.watch.exchange });
    case 'watchlist':
      return renderWatchlist(lang, reply.entries, reply.max, reply.now, reply.channel);
    case 'channel_linked':
      return [t(lang, reply.already ? 'channel.linkedAlready' : 'channel.linked', { channel: reply.channel }), t(lang, 'channel.linkedHowTo', { channel: reply.channel })].join('\n');
    case 'channel_list':
      return renderChannels(lang, reply.channels);
    case 'channel_unlinked': {
      const d = reply.deleted;
      if (!d) return t(lang, 'channel.unlinkedKept', { channel: reply.channel });
      if (d.alerts === 0 && d.watches === 0) return t(lang, 'channel.unlinked', { channel: reply.channel });
      return t(lang, 'channel.unlinkedDeleted', { channel: reply.channel, alerts: msg('count.alerts', { count: d.alerts }), watches: msg('count.watches', { count: d.watches }) });
    }
    case 'admins_only':
      return t(lang, `admins.${reply.subject}`);
    case 'timezone':
      if (reply.timezone === null) return t(lang, reply.changed ? 'timezone.utcSet' : 'timezone.utc');
      return t(lang, reply.changed ? 'timezone.set' : 'timezone.current', { zone: reply.timezone, time: localTime(reply.now, reply.timezone) });
    case 'language':
      return t(lang, reply.changed ? 'language.set' : 'language.current');
    case 'webhook_set':
      return [t(lang, 'webhook.set', { url: reply.url }), t(lang, 'webhook.secret', { secret: reply.secret }), t(lang, 'webhook.verify'), t(lang, 'webhook.lostSecret')].join('\n');
    case 'webhook_status': {
      const hook = reply.webhook;
      if (!hook) return t(lang, 'webhook.none');
      const health = hook.lastError
        ? hook.failures > 0
          ? t(lang, 'webhook.lastErrorFailures', { error: hook.lastError, count: hook.failures })
          : t(lang, 'webhook.lastError', { error: hook.lastError })
        : t(lang, 'webhook.noErrors');
      return [t(lang, hook.active ? 'webhook.statusActive' : 'webhook.statusInactive', { url: hook.url }), health, t(lang, 'webhook.secretNote')].join('\n');
    }
    case 'webhook_removed':
      return t(lang, reply.removed ? 'webhook.removed' : 'webhook.noneToRemove');
  }
}

/** "2026-11-25 17:04" in an IANA timezone; the zone was validated when it was set. */
export function localTime(at: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}

const LEVEL_KEY = { '>': 'cond.above', '>=': 'cond.atOrAbove', '<': 'cond.below', '<=': 'cond.atOrBelow' } as const satisfies Record<string, MessageKey>;
const MOVE_KEY = {
  move: { up: 'cond.upFromCreation', down: 'cond.downFromCreation', any: 'cond.movesFromCreation' },
  window_move: { up: 'cond.upWithin', down: 'cond.downWithin', any: 'cond.movesWithin' },
} as const;

/** A rule's condition as users read it: "SOL/USDT above 200", "ETH/USDT: рост на 3% за 1 ч". */
export function describeConditionIn(lang: Lang, c: RuleCondition, pair: string): string {
  switch (c.kind) {
    case 'level':
      return t(lang, LEVEL_KEY[c.op], { pair, price: groupDigits(c.price) });
    case 'crosses':
      return t(lang, 'cond.crosses', { pair, price: groupDigits(c.price) });
    case 'move':
      return t(lang, MOVE_KEY.move[c.direction], { pair, pct: c.percent });
    case 'window_move':
      return t(lang, MOVE_KEY.window_move[c.direction], { pair, pct: c.percent, window: formatDurationIn(lang, c.windowSec) });
  }
}

function deletedOne(lang: Lang, rule: RuleView, channel?: string): string {
  const condition = describeConditionIn(lang, rule.condition, rule.pair);
  return channel ? t(lang, 'alerts.deletedOneChannel', { id: rule.id, channel, condition }) : t(lang, 'alerts.deletedOne', { id: rule.id, condition });
}

function renderChannels(lang: Lang, channels: readonly ChannelView[]): string {
  if (channels.length === 0) return t(lang, 'channel.none');
  const line = (c: ChannelView): string => t(lang, 'channel.listLine', { channel: c.handle, alerts: msg('count.alerts', { count: c.alerts }), watches: msg('count.watches', { count: c.watches }) });
  return [t(lang, 'channel.listHeader'), ...channels.map(line), '', t(lang, 'channel.listFooter')].join('\n');
}

/** The short notice a button press answers with (a Telegram toast holds 200 characters); undefined for none. */
export function renderButtonOutcome(o: ButtonOutcome, lang: Lang): string | undefined {
  switch (o.kind) {
    case 'deleted':
      return deletedOne(lang, o.rule);
    case 'rearmed':
      return t(lang, o.holdsNow ? 'button.rearmedHolds' : 'button.rearmed', { id: o.ruleId });
    case 'already_on':
      return t(lang, 'button.alreadyOn', { id: o.ruleId });
    case 'snoozed':
      return t(lang, 'button.snoozed', { id: o.ruleId, time: clockTime(o.until.getTime(), o.now) });
    case 'gone':
      return t(lang, 'button.gone');
    case 'admins_only':
      return t(lang, o.where === 'channel' ? `adminsChannel.${o.subject}` : `admins.${o.subject}`);
    case 'error':
      return render(lang, o.text);
    case 'unknown':
      return undefined;
  }
}

/** Said after the price when it did not come from the live stream. */
function sourceNote(lang: Lang, source: PriceTick['source']): string {
  if (source === 'poll') return t(lang, 'notify.sourcePoll');
  if (source === 'gapfill') return t(lang, 'notify.sourceGapfill');
  return '';
}

/**
 * The message a fired alert sends, in the chat's language. `condition` is the rule's own (the payload's
 * `condition` is its English wording, kept for webhooks).
 */
export function renderAlertMessage(lang: Lang, p: AlertPayload, condition: RuleCondition, timeZone?: string | null): string {
  const when = new Date(p.at).toISOString().replace('T', ' ').slice(0, 19);
  const local = timeZone ? ` (${localTime(p.at, timeZone)} ${timeZone})` : '';
  const lines = [
    `🔔 ${describeConditionIn(lang, condition, p.pair)}`,
    t(lang, 'notify.price', { pair: p.pair, price: formatPrice(p.price), quote: quoteOf(p.pair), exchange: p.exchange, sourceNote: sourceNote(lang, p.source) }),
    t(lang, p.final ? 'notify.footer' : 'notify.footerRepeating', { when, local, id: p.ruleId }),
  ];
  if (p.note) lines.push(t(lang, 'notify.note', { note: p.note }));
  return lines.join('\n');
}

function ruleLine(lang: Lang, r: RuleView): string {
  const parts = [`#${r.id} ${describeConditionIn(lang, r.condition, r.pair)}`, t(lang, 'alerts.lineOn', { exchange: r.exchange })];
  if (r.repeatEverySec !== undefined) parts.push(t(lang, 'alerts.lineEvery', { duration: formatDurationIn(lang, r.repeatEverySec) }));
  if (r.expiresAt) parts.push(t(lang, 'alerts.lineUntil', { date: r.expiresAt.toISOString().slice(0, 16).replace('T', ' ') }));
  if (r.paused) parts.push(t(lang, 'alerts.linePaused'));
  return parts.join(' · ') + (r.note ? ` — ${r.note}` : '');
}

/** Where the price stands against a level rule, as users read it: "6.78% below the level". */
function distance(lang: Lang, spec: RuleSpec, price: number): string | undefined {
  const c = spec.condition;
  if (c.kind !== 'level' && c.kind !== 'crosses') return undefined;
  const level = Number(c.price);
  if (price === level) return t(lang, 'alert.atLevel');
  const diff = (Math.abs(level - price) / price) * 100;
  const pct = diff.toFixed(diff < 0.1 ? 3 : 2);
  return t(lang, price < level ? 'alert.belowLevel' : 'alert.aboveLevel', { pct });
}

function renderCreated(lang: Lang, rule: RuleView, spec: RuleSpec, tick: PriceTick, holdsNow: boolean, channel?: string): string {
  const away = distance(lang, spec, tick.last);
  const now = { price: formatPrice(tick.last), quote: quoteOf(tick.pair) };
  const lines = [
    t(lang, 'alert.created', { id: rule.id, condition: describeConditionIn(lang, rule.condition, rule.pair), exchange: rule.exchange }),
    away ? t(lang, 'alert.createdNowAway', { ...now, distance: away }) : t(lang, 'alert.createdNow', now),
  ];
  if (holdsNow) lines.push(t(lang, 'alert.holdsNow'));
  const once = channel ? t(lang, 'alert.onceChannel', { id: rule.id, channel }) : t(lang, 'alert.once', { id: rule.id });
  lines.push(rule.repeatEverySec !== undefined ? t(lang, 'alert.repeats', { duration: formatDurationIn(lang, rule.repeatEverySec) }) : once);
  if (channel) lines.push(t(lang, 'alert.postsTo', { channel }));
  return lines.join('\n');
}

/** "14:02 UTC" when `at` is on the same UTC day, else with the date: the reader knows which day it is. */
function clockTime(ms: number, at: number): string {
  const iso = new Date(ms).toISOString();
  const sameDay = iso.slice(0, 10) === new Date(at).toISOString().slice(0, 10);
  return `${sameDay ? '' : `${iso.slice(0, 10)} `}${iso.slice(11, 16)} UTC`;
}

/** The message a watch sends: "📈 BTC/USDT +3.12% to 101,234.50 USDT on binance (from 98,170.00 since 14:02 UTC)". */
export function renderWatchMessage(lang: Lang, m: WatchMove): string {
  const pct = ((m.price - m.from) / m.from) * 100;
  return t(lang, 'watch.message', {
    icon: m.price >= m.from ? '📈' : '📉',
    pair: m.pair,
    pct: formatPercent(pct),
    price: formatPrice(m.price),
    quote: quoteOf(m.pair),
    exchange: m.exchange,
    from: formatPrice(m.from),
    time: clockTime(m.since, m.at),
    sourceNote: sourceNote(lang, m.source),
  });
}

function renderWatchAdded(lang: Lang, r: Extract<Reply, { kind: 'watch_added' }>): string {
  const { watch: w, tick } = r;
  const base = { pair: w.pair, exchange: w.exchange, pct: w.movePct };
  const now = { price: formatPrice(tick.last), quote: quoteOf(w.pair) };
  if (r.channel) {
    const channel = r.channel;
    const lead = r.updated ? t(lang, 'watch.updatedChannel', { ...base, channel }) : t(lang, 'watch.addedChannel', { ...base, channel });
    return [lead, t(lang, 'watch.channelNow', { ...now, pair: w.pair, channel })].join('\n');
  }
  if (!r.updated) {
    return [t(lang, 'watch.added', base), t(lang, 'watch.addedCount', { ...now, count: r.count, max: r.max, pair: w.pair })].join('\n');
  }
  if (r.previousPct === undefined || r.previousPct === w.movePct) {
    return [t(lang, 'watch.unchanged', base), t(lang, 'watch.unchangedNow', { ...now, pair: w.pair })].join('\n');
  }
  const second =
    w.referencePrice === undefined
      ? t(lang, 'watch.changedNow', now)
      : t(lang, 'watch.changedNowFrom', { ...now, reference: formatPrice(w.referencePrice), time: clockTime(w.since.getTime(), tick.exchangeTs) });
  return [t(lang, 'watch.changed', { ...base, from: r.previousPct }), second].join('\n');
}

const WATCH_SOURCE_KEY = {
  stream: 'watchlist.sourceStream',
  poll: 'watchlist.sourcePoll',
  gapfill: 'watchlist.sourceGapfill',
  rest: 'watchlist.sourceRest',
} as const satisfies Record<PriceTick['source'], MessageKey>;

function watchLine(lang: Lang, e: WatchEntry, now: number): string {
  const w = e.watch;
  const head = t(lang, 'watchlist.head', { pair: w.pair, exchange: w.exchange });
  const threshold = `±${w.movePct}%`;
  if (!e.tick) return `${head} ${t(lang, 'watchlist.noPrice')} · ${threshold}`;
  const tick = e.tick;
  const change = change24h(lang, tick.changePct24h);
  const source = t(lang, e.fromRest ? WATCH_SOURCE_KEY.rest : WATCH_SOURCE_KEY[tick.source]);
  // a cached price from a stream that has since gone quiet must not pass for a live one
  const age = now - tick.exchangeTs > 60_000 ? ` (${formatAge(lang, now - tick.exchangeTs)})` : '';
  return `${head} ${formatPrice(tick.last)} ${quoteOf(w.pair)}${change ? ` ${change}` : ''} · ${source}${age} · ${threshold}`;
}

function renderWatchlist(lang: Lang, entries: readonly WatchEntry[], max: number, now: number, channel?: string): string {
  if (entries.length === 0) return channel ? t(lang, 'watchlist.emptyChannel', { channel }) : t(lang, 'watchlist.empty');
  const header = channel ? t(lang, 'watchlist.headerChannel', { channel, count: entries.length, max }) : t(lang, 'watchlist.header', { count: entries.length, max });
  return [header, ...entries.map((e) => watchLine(lang, e, now)), '', t(lang, 'watchlist.footer')].join('\n');
}
