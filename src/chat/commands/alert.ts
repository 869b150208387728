import type { AlertRule } from '../../generated/prisma/client.js';
import { UserInputError } from '../../errors.js';
import { msg } from '../../i18n/index.js';
import { ALERT_ALIASES, parseAlert } from '../../alerts/grammar.js';
import { columnsToCondition } from '../../alerts/store.js';
import type { Command, CommandServices, RuleView } from './types.js';
import { alertsReady } from './options.js';
import { channelOfRule, takeTarget, targetChat } from './channel.js';

const alertsOf = (services: CommandServices) => alertsReady(services, 'alerts');

export function toRuleView(rule: AlertRule): RuleView {
  return {
    id: rule.id,
    exchange: rule.exchange,
    pair: rule.pair,
    condition: columnsToCondition(rule),
    ...(rule.repeat === 'every' && rule.cooldownSec !== null ? { repeatEverySec: rule.cooldownSec } : {}),
    ...(rule.expiresAt ? { expiresAt: rule.expiresAt } : {}),
    ...(rule.note ? { note: rule.note } : {}),
    paused: rule.state === 'paused',
  };
}

export const alert: Command = {
  name: 'alert',
  aliases: ALERT_ALIASES,
  mutates: 'alerts',
  usage: 'cmd.alert.usage',
  summary: 'cmd.alert.summary',
  examples: ['/alert SOL/USDT > 200', '/alert BTC crosses 100k every 1h', '/alert ETH/USDT -5%', '/alert ETH 3% in 1h -- volatility', '/alert SOL/USDT > 200 to @yourchannel'],
  async run(ctx) {
    const { args, services } = ctx;
    const { rest, target } = takeTarget(args, '/alert SOL/USDT > 200');
    // the syntax is judged before the platform is asked about the channel
    const spec = parseAlert(rest, { defaultQuote: services.config.defaultQuote, exchanges: services.config.exchanges, now: new Date(services.now()) });
    const exchange = spec.exchange ?? services.config.exchanges[0]!;
    const alerts = alertsOf(services);
    const { chat, channel } = await targetChat(ctx, target);
    const created = await alerts.create(chat, { ...spec, exchange }, `/alert ${args}`.slice(0, 500));
    return {
      kind: 'alert_created', rule: toRuleView(created.rule), spec, tick: created.tick, holdsNow: created.holdsNow, now: services.now(),
      ...(channel ? { channel } : {}),
    };
  },
};

export const alerts: Command = {
  name: 'alerts',
  aliases: ['list', 'myalerts'],
  usage: 'cmd.alerts.usage',
  summary: 'cmd.alerts.summary',
  examples: ['/alerts', '/alerts to @yourchannel'],
  async run(ctx) {
    const alerts = alertsOf(ctx.services);
    // anything else typed after /alerts is ignored, as it always was
    const { chat, channel } = await targetChat(ctx, takeTarget(ctx.args, '/alerts').target);
    const rules = await alerts.list(chat);
    return { kind: 'alert_list', rules: rules.map(toRuleView), max: ctx.services.config.maxRulesPerChat, ...(channel ? { channel } : {}) };
  },
};

export const del: Command = {
  name: 'delete',
  aliases: ['del', 'remove', 'rm'],
  mutates: 'alerts',
  usage: 'cmd.delete.usage',
  summary: 'cmd.delete.summary',
  examples: ['/delete 12', '/delete all', '/delete all to @yourchannel'],
  async run(ctx) {
    const { rest, target } = takeTarget(ctx.args, '/delete all');
    const arg = rest.replace(/^#/, '').toLowerCase();
    if (arg === '') throw new UserInputError(msg('delete.which'), '/delete 12');
    if (arg !== 'all' && !/^\d{1,9}$/.test(arg)) throw new UserInputError(msg('delete.notAnId', { input: rest.slice(0, 20) }), '/delete 12');
    const alerts = alertsOf(ctx.services);
    let { chat, channel } = await targetChat(ctx, target);
    let deleted = await alerts.delete(chat, arg === 'all' ? 'all' : Number(arg));
    if (arg !== 'all' && deleted.length === 0 && !channel) {
      // an alert of a channel this private chat links is deleted from here too, its rights checked as for "to @name"
      const owner = await channelOfRule(ctx, Number(arg));
      if (owner) {
        ({ chat, channel } = owner);
        deleted = await alerts.delete(chat, Number(arg));
      }
    }
    if (arg !== 'all' && deleted.length === 0) {
      if (channel) throw new UserInputError(msg('delete.noSuchChannel', { id: arg, channel }), `/alerts to ${channel}`);
      throw new UserInputError(msg('delete.noSuch', { id: arg }), '/alerts');
    }
    return { kind: 'alerts_deleted', rules: deleted.map(toRuleView), all: arg === 'all', ...(channel ? { channel } : {}) };
  },
};
