import type { PriceTick } from '../market/types.js';
import type { CommandInfo, Reply } from './commands/types.js';

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
  }
}
