import type { AlertRule } from '../../generated/prisma/client.js';
import { UserInputError } from '../../errors.js';
import { msg } from '../../i18n/index.js';
import { ALERT_ALIASES, parseAlert } from '../../alerts/grammar.js';
import { columnsToCondition } from '../../alerts/store.js';
import type { Command, CommandServices, RuleView } from './types.js';
import { alertsReady } from './options.js';

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
  examples: ['/alert SOL/USDT > 200', '/alert BTC crosses 100k every 1h', '/alert ETH/USDT -5%', '/alert ETH 3% in 1h -- volatility'],
  async run({ chat, args, services }) {
    const spec = parseAlert(args, { defaultQuote: services.config.defaultQuote, exchanges: services.config.exchanges, now: new Date(services.now()) });
    const exchange = spec.exchange ?? services.config.exchanges[0]!;
    const created = await alertsOf(services).create(chat, { ...spec, exchange }, `/alert ${args}`.slice(0, 500));
    return { kind: 'alert_created', rule: toRuleView(created.rule), spec, tick: created.tick, holdsNow: created.holdsNow, now: services.now() };
  },
};

export const alerts: Command = {
  name: 'alerts',
  aliases: ['list', 'myalerts'],
  usage: 'cmd.alerts.usage',
  summary: 'cmd.alerts.summary',
  examples: ['/alerts'],
  async run({ chat, services }) {
    const rules = await alertsOf(services).list(chat);
    return { kind: 'alert_list', rules: rules.map(toRuleView), max: services.config.maxRulesPerChat };
  },
};

export const del: Command = {
  name: 'delete',
  aliases: ['del', 'remove', 'rm'],
  mutates: 'alerts',
  usage: 'cmd.delete.usage',
  summary: 'cmd.delete.summary',
  examples: ['/delete 12', '/delete all'],
  async run({ chat, args, services }) {
    const arg = args.trim().replace(/^#/, '').toLowerCase();
    if (arg === '') throw new UserInputError(msg('delete.which'), '/delete 12');
    if (arg !== 'all' && !/^\d{1,9}$/.test(arg)) throw new UserInputError(msg('delete.notAnId', { input: args.trim().slice(0, 20) }), '/delete 12');
    const deleted = await alertsOf(services).delete(chat, arg === 'all' ? 'all' : Number(arg));
    if (arg !== 'all' && deleted.length === 0) throw new UserInputError(msg('delete.noSuch', { id: arg }), '/alerts');
    return { kind: 'alerts_deleted', rules: deleted.map(toRuleView), all: arg === 'all' };
  },
};
