import type { Watch } from '../../generated/prisma/client.js';
import type { Config } from '../../config.js';
import { FeedError, UserInputError } from '../../errors.js';
import { msg, type Text } from '../../i18n/index.js';
import { compareDecimal, decimalPlaces, readDecimal } from '../../alerts/numbers.js';
import { normalisePair } from '../../market/symbols.js';
import { takeExchange, alertsReady } from './options.js';
import type { Command, CommandServices, WatchEntry, WatchView } from './types.js';
import { takeTarget, targetChat } from './channel.js';

const MIN_PCT = '0.1';
const MAX_PCT = '50';
/** a last word that is meant as the threshold: "3%", "2.5", "+3%", "±1%" (a pair always has a letter) */
const PERCENTISH = /^[+\-±]?[\d.,_]*\d[\d.,_]*%?$|%$/;

export interface WatchArgs {
  pair: string;
  exchange: string;
  /** "on <exchange>" was typed; otherwise `exchange` is the default one */
  exchangeGiven: boolean;
  /** canonical decimal; undefined when none was typed (a new watch then takes the default) */
  movePct?: string;
}

/**
 * Reads "<pair> [percent] [on <exchange>]" (/watch) or "<pair> [on <exchange>]" (/unwatch). Throws
 * UserInputError with a corrected example.
 */
export function parseWatchArgs(args: string, config: Pick<Config, 'defaultQuote' | 'exchanges'>, command: 'watch' | 'unwatch'): WatchArgs {
  const { rest, exchange } = takeExchange(args, config.exchanges, `/${command} BTC/USDT${command === 'watch' ? ' 3%' : ''}`);
  const exchangeGiven = rest !== args.trim();
  const words = rest.replace(/\s+%/g, '%').split(/\s+/).filter(Boolean);
  const last = words[words.length - 1];
  const pctToken = command === 'watch' && last !== undefined && PERCENTISH.test(last) ? words.pop() : undefined;
  if (words.length === 0) {
    fail(pctToken ? msg('watch.whichPairBeforePct') : msg('watch.whichPair', { command }), `/${command} BTC/USDT${pctToken ? ` ${pctToken}` : ''}`);
  }
  if (words.length > 2 || (words.length === 2 && !/^[a-z0-9]{1,10}$/i.test(words[1]!))) {
    const input = rest.slice(0, 40);
    fail(command === 'watch' ? msg('watch.takesPairPct', { input }) : msg('watch.takesPair', { input }), `/${command} BTC/USDT${command === 'watch' ? ' 3%' : ''}`);
  }
  let pair: string;
  try {
    pair = normalisePair(words.join('/'), config.defaultQuote);
  } catch (err) {
    // the message is right, but its example is /price's
    if (err instanceof UserInputError) throw err.withExample(`/${command} BTC/USDT`);
    throw err;
  }
  const parsed: WatchArgs = { pair, exchange, exchangeGiven };
  if (pctToken !== undefined) parsed.movePct = readPercent(pctToken, pair);
  return parsed;
}

function readPercent(token: string, pair: string): string {
  const example = `/watch ${pair} 3%`;
  if (!token.endsWith('%')) fail(msg('watch.pctSuffix', { token }), `/watch ${pair} ${token}%`);
  if (/^[+-]/.test(token)) {
    fail(msg('watch.noSign', { pair, token }), `/watch ${pair} ${token.slice(1)}`);
  }
  const r = readDecimal(token.replace(/^±/, '').slice(0, -1), false);
  if (!r.ok) fail(msg('watch.badPct', { token: token.slice(0, 20) }), example);
  if (decimalPlaces(r.value) > 4) fail(msg('watch.pctDecimals', { token: token.slice(0, 20) }), example);
  if (compareDecimal(r.value, MIN_PCT) < 0 || compareDecimal(r.value, MAX_PCT) > 0) {
    fail(msg('watch.pctRange', { min: MIN_PCT, max: MAX_PCT, value: r.value }), example);
  }
  return r.value;
}

function fail(text: Text, example: string): never {
  throw new UserInputError(text, example);
}

const watchesOf = (services: CommandServices) => alertsReady(services, 'watchlist');

export function toWatchView(w: Watch): WatchView {
  return {
    exchange: w.exchange,
    pair: w.pair,
    movePct: w.movePct.toString(),
    ...(w.referencePrice !== null ? { referencePrice: Number(w.referencePrice.toString()) } : {}),
    since: w.lastNotifiedAt ?? w.createdAt,
  };
}

export const watch: Command = {
  name: 'watch',
  mutates: 'watchlist',
  usage: 'cmd.watch.usage',
  summary: 'cmd.watch.summary',
  examples: ['/watch BTC/USDT', '/watch ETH 5%', '/watch SOL/USDT 2.5% on okx', '/watch BTC/USDT to @yourchannel'],
  async run(ctx) {
    const { services } = ctx;
    const { rest, target } = takeTarget(ctx.args, '/watch BTC/USDT');
    const parsed = parseWatchArgs(rest, services.config, 'watch');
    const alerts = watchesOf(services);
    const { chat, channel } = await targetChat(ctx, target);
    const { exchange, pair, movePct } = parsed;
    const r = await alerts.watch(chat, { exchange, pair, ...(movePct !== undefined ? { movePct } : {}) });
    return {
      kind: 'watch_added', watch: toWatchView(r.watch), tick: r.tick, updated: r.updated, count: r.count, max: alerts.maxWatchesPerChat,
      ...(r.previousPct !== undefined ? { previousPct: r.previousPct } : {}), ...(channel ? { channel } : {}),
    };
  },
};

export const unwatch: Command = {
  name: 'unwatch',
  mutates: 'watchlist',
  usage: 'cmd.unwatch.usage',
  summary: 'cmd.unwatch.summary',
  examples: ['/unwatch BTC/USDT', '/unwatch SOL on okx', '/unwatch BTC/USDT to @yourchannel'],
  async run(ctx) {
    const { services } = ctx;
    const { rest, target } = takeTarget(ctx.args, '/unwatch BTC/USDT');
    const { pair, exchange, exchangeGiven } = parseWatchArgs(rest, services.config, 'unwatch');
    const alerts = watchesOf(services);
    const { chat, channel } = await targetChat(ctx, target);
    const gone = await alerts.unwatch(chat, pair, exchangeGiven ? exchange : undefined);
    if (!gone) {
      if (channel) {
        const text = exchangeGiven ? msg('watch.notWatchedOnChannel', { pair, exchange, channel }) : msg('watch.notWatchedChannel', { pair, channel });
        throw new UserInputError(text, `/watchlist to ${channel}`);
      }
      throw new UserInputError(exchangeGiven ? msg('watch.notWatchedOn', { pair, exchange }) : msg('watch.notWatched', { pair }), '/watchlist');
    }
    return { kind: 'watch_removed', watch: toWatchView(gone), ...(channel ? { channel } : {}) };
  },
};

export const watchlist: Command = {
  name: 'watchlist',
  aliases: ['watches'],
  usage: 'cmd.watchlist.usage',
  summary: 'cmd.watchlist.summary',
  examples: ['/watchlist', '/watchlist to @yourchannel'],
  async run(ctx) {
    const { services } = ctx;
    const alerts = watchesOf(services);
    // anything else typed after /watchlist is ignored, as it always was
    const { chat, channel } = await targetChat(ctx, takeTarget(ctx.args, '/watchlist').target);
    const rows = await alerts.watchlist(chat);
    const entries = await Promise.all(rows.map((w) => entryFor(services, w)));
    return { kind: 'watchlist', entries, max: alerts.maxWatchesPerChat, now: services.now(), ...(channel ? { channel } : {}) };
  },
};

/** Watched pairs stream, so the cache nearly always answers; REST only fills in a pair not seen yet. */
async function entryFor(services: CommandServices, w: Watch): Promise<WatchEntry> {
  const watch = toWatchView(w);
  const cached = services.hub.latest(w.exchange, w.pair);
  if (cached) return { watch, tick: cached, fromRest: false };
  try {
    const { tick, fromRest } = await services.hub.quote(w.exchange, w.pair);
    return { watch, tick, fromRest };
  } catch (err) {
    // one unreachable exchange or delisted pair must not blank the whole list
    if (err instanceof FeedError || err instanceof UserInputError) return { watch, fromRest: false };
    throw err;
  }
}
