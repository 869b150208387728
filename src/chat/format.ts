import type { PriceTick } from '../market/types.js';
import type { AlertPayload } from '../delivery/notification.js';
import type { CommandInfo, Reply, RuleView } from './commands/types.js';
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
      return renderCreated(reply.rule, reply.spec, reply.tick, reply.holdsNow);
    case 'alert_list':
      return reply.rules.length === 0
        ? 'No alerts in this chat yet. Try /alert BTC/USDT > 100000'
        : [`Alerts in this chat (${reply.rules.length} of ${reply.max}):`, ...reply.rules.map(ruleLine), '', 'Delete one with /delete <id>.'].join('\n');
    case 'alerts_deleted':
      if (reply.rules.length === 0) return 'There were no alerts to delete.';
      return reply.all ? `Deleted all ${reply.rules.length} alerts of this chat.` : `Deleted alert #${reply.rules[0]!.id}: ${reply.rules[0]!.condition}.`;
  }
}

const ALERT_SOURCE_NOTE: Partial<Record<PriceTick['source'], string>> = {
  poll: ' (price from REST polling while the stream was down)',
  gapfill: ' (reached while the stream was down; found when it came back)',
};

/** The message a fired alert sends. Times are UTC until chats can set a timezone. */
export function renderAlertMessage(p: AlertPayload): string {
  const quote = p.pair.split('/')[1] ?? '';
  const when = new Date(p.at).toISOString().replace('T', ' ').slice(0, 19);
  const lines = [
    `🔔 ${p.condition}`,
    `${p.pair} is ${formatPrice(p.price)} ${quote} on ${p.exchange}${ALERT_SOURCE_NOTE[p.source] ?? ''}`,
    `${when} UTC · alert #${p.ruleId}${p.final ? '' : ' (repeating)'}`,
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

function renderCreated(rule: RuleView, spec: RuleSpec, tick: PriceTick, holdsNow: boolean): string {
  const quote = tick.pair.split('/')[1] ?? '';
  const away = distance(spec, tick.last);
  const lines = [`✅ Alert #${rule.id}: ${rule.condition} (${rule.exchange})`, `Now ${formatPrice(tick.last)} ${quote}${away ? `, ${away}` : ''}.`];
  if (holdsNow) lines.push('The condition already holds, so it fires with the next price.');
  lines.push(rule.repeatEverySec !== undefined ? `Repeats at most every ${formatDuration(rule.repeatEverySec)}, after the price moves back.` : 'Fires once. /alerts lists it, /delete ' + rule.id + ' removes it.');
  return lines.join('\n');
}
