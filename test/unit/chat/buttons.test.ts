import { describe, expect, it } from 'vitest';
import type { AlertRule } from '../../../src/generated/prisma/client.js';
import { Prisma } from '../../../src/generated/prisma/client.js';
import { UserInputError } from '../../../src/errors.js';
import { alertButtons, buttonData, parseButtonData, pressButton, replyButtons, type ButtonAction } from '../../../src/chat/commands/buttons.js';
import { dispatchCommand } from '../../../src/chat/commands/index.js';
import type { ChatRef, CommandServices, RuleView } from '../../../src/chat/commands/types.js';
import { renderButtonOutcome, renderReply } from '../../../src/chat/format.js';
import { botCanPost } from '../../../src/chat/telegram.js';
import { loadConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import { MarketHub } from '../../../src/market/hub.js';
import { MemoryFeed } from '../../helpers/memory-feed.js';
import { msg } from '../../../src/i18n/index.js';
import type { RuleCondition } from '../../../src/alerts/types.js';

const log = createLogger('silent');
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const group: ChatRef = { platform: 'telegram', chatId: '-10042', kind: 'group', userId: '7' };
const priv: ChatRef = { platform: 'telegram', chatId: '7', kind: 'private', userId: '7' };
const channel: ChatRef = { platform: 'telegram', chatId: '-10043', kind: 'channel' };

describe('button data', () => {
  it.each<[ButtonAction, string]>([
    [{ kind: 'delete', ruleId: 12, fromList: false }, 'del:12'],
    [{ kind: 'delete', ruleId: 12, fromList: true }, 'del:12:list'],
    [{ kind: 'rearm', ruleId: 7 }, 'rearm:7'],
    [{ kind: 'snooze', ruleId: 7, seconds: 3600 }, 'snooze:7:3600'],
  ])('%j ⇄ %s', (action, data) => {
    expect(buttonData(action)).toBe(data);
    expect(parseButtonData(data)).toEqual(action);
    expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64); // Telegram's callback_data limit
  });

  it.each(['noop', '', 'del:', 'del:0', 'del:-1', 'del:12:x', 'del:1234567890', 'rearm:7:list', 'snooze:7', 'snooze:7:list', 'snooze:7:59', 'snooze:7:604801', 'DEL:12', ' del:12'])(
    '%j is not ours',
    (data) => expect(parseButtonData(data)).toBeNull(),
  );
});

describe('which buttons a message gets', () => {
  it('offers to bring a fired one-shot alert back, and quiet or deletion for a repeating one', () => {
    expect(alertButtons({ ruleId: 5, final: true })).toEqual([[{ label: '🔁 Re-arm', data: 'rearm:5' }, { label: '⏰ Snooze 1h', data: 'snooze:5:3600' }]]);
    expect(alertButtons({ ruleId: 5, final: false })).toEqual([[{ label: '⏰ Snooze 1h', data: 'snooze:5:3600' }, { label: '❌ Delete', data: 'del:5' }]]);
    // labelled in the language the alert's text was worded in
    expect(alertButtons({ ruleId: 5, final: true, language: 'ru' })).toEqual([[{ label: '🔁 Включить снова', data: 'rearm:5' }, { label: '⏰ Отложить на 1 ч', data: 'snooze:5:3600' }]]);
  });

  const view = (id: number, condition: RuleCondition = { kind: 'level', op: '>', price: '100000' }, pair = 'BTC/USDT'): RuleView => ({ id, exchange: 'binance', pair, condition, paused: false });

  it('gives /alerts one ❌ per rule, labels cut to fit, at most 50', () => {
    const long = view(2, { kind: 'window_move', direction: 'any', percent: '12.3456', windowSec: 95_400 }, 'ETH/USDT');
    expect(replyButtons({ kind: 'alert_list', rules: [view(1), long], max: 100 }, 'en')).toEqual([
      [{ label: '❌ #1 BTC/USDT above 100,000', data: 'del:1:list' }],
      [{ label: '❌ #2 ETH/USDT moves 12.3456% within 1d2…', data: 'del:2:list' }],
    ]);
    expect(replyButtons({ kind: 'alert_list', rules: [view(1)], max: 100 }, 'ru')).toEqual([[{ label: '❌ #1 BTC/USDT выше 100,000', data: 'del:1:list' }]]);
    const many = Array.from({ length: 80 }, (_, i) => view(i + 1));
    expect(replyButtons({ kind: 'alert_list', rules: many, max: 100 }, 'en')).toHaveLength(50);
    expect(replyButtons({ kind: 'alert_list', rules: [], max: 100 }, 'en')).toBeUndefined();
    expect(replyButtons({ kind: 'not_a_command' }, 'en')).toBeUndefined();
  });
});

describe('botCanPost', () => {
  const user = { id: 1, is_bot: true, first_name: 'MaxFlash' };
  const restricted = (is_member: boolean, can_send_messages: boolean) =>
    ({ status: 'restricted', user, is_member, can_send_messages, until_date: 0 }) as unknown as Parameters<typeof botCanPost>[0];
  it.each([
    ['creator', { status: 'creator', user, is_anonymous: false }, true],
    ['administrator', { status: 'administrator', user, can_be_edited: false, is_anonymous: false }, true],
    ['member', { status: 'member', user }, true],
    ['left', { status: 'left', user }, false],
    ['kicked (removed, or blocked in a private chat)', { status: 'kicked', user, until_date: 0 }, false],
  ])('%s → %s', (_name, member, expected) => expect(botCanPost(member as Parameters<typeof botCanPost>[0])).toBe(expected));
  it('restricted: in only while it is a member that may write', () => {
    expect(botCanPost(restricted(true, true))).toBe(true);
    expect(botCanPost(restricted(true, false))).toBe(false);
    expect(botCanPost(restricted(false, true))).toBe(false);
  });
});

describe('renderButtonOutcome', () => {
  it.each([
    [{ kind: 'deleted', rule: { id: 3, exchange: 'binance', pair: 'SOL/USDT', condition: { kind: 'level', op: '>', price: '200' }, paused: false } }, 'Deleted alert #3: SOL/USDT above 200.'],
    [{ kind: 'rearmed', ruleId: 3, holdsNow: false }, 'Alert #3 is on again.'],
    [{ kind: 'rearmed', ruleId: 3, holdsNow: true }, 'Alert #3 is on again. Its condition holds already, so it fires with the next price.'],
    [{ kind: 'already_on', ruleId: 3 }, 'Alert #3 is on already.'],
    [{ kind: 'snoozed', ruleId: 3, until: new Date(NOW + 3_600_000), now: NOW }, 'Alert #3 is snoozed until 13:00 UTC.'],
    [{ kind: 'snoozed', ruleId: 3, until: new Date(NOW + 86_400_000), now: NOW }, 'Alert #3 is snoozed until 2026-11-26 12:00 UTC.'],
    [{ kind: 'gone' }, 'This alert no longer exists.'],
    [{ kind: 'admins_only', subject: 'alerts' }, "Only this group's admins can change its alerts."],
    [{ kind: 'error', text: msg('delete.which') }, 'Which alert? Give its id from /alerts, or "all".'],
    [{ kind: 'unknown' }, undefined],
  ] as const)('%j', (outcome, text) => expect(renderButtonOutcome(outcome, 'en')).toBe(text));

  it('words a refused command by what it would have changed', () => {
    expect(renderReply({ kind: 'admins_only', subject: 'watchlist' }, 'en')).toBe("Only this group's admins can change its watchlist.");
    expect(renderReply({ kind: 'admins_only', subject: 'watchlist' }, 'ru')).toBe('Менять список отслеживания этой группы могут только её администраторы.');
  });
});

/** The slice of AlertService the command layer sees, in memory, recording what it was asked. */
function fakeAlerts(rules: AlertRule[] = []) {
  const calls: string[] = [];
  const unused = async (): Promise<never> => {
    throw new Error('not used here');
  };
  const alerts: NonNullable<CommandServices['alerts']> = {
    maxWatchesPerChat: 50,
    create: unused,
    watch: unused,
    unwatch: unused,
    watchlist: unused,
    async list() {
      calls.push('list');
      return rules.filter((r) => r.state === 'active');
    },
    async delete(_chat, id) {
      calls.push(`delete ${id}`);
      const r = rules.find((x) => x.id === id && x.state === 'active');
      if (!r) return [];
      r.state = 'deleted';
      return [r];
    },
    async reactivateChat(platform, externalId) {
      calls.push(`reactivate ${platform}:${externalId}`);
      return null;
    },
    async rearm(_chat, id) {
      throw new UserInputError(msg('alerts.quota', { count: 20, max: 20 }), `/delete ${id}`);
    },
  };
  return { alerts, calls };
}

function rule(id: number): AlertRule {
  return {
    id, chatId: 1, creatorId: null, exchange: 'binance', pair: 'BTC/USDT', kind: 'level', op: '>', threshold: new Prisma.Decimal(100_000 + id), windowSec: null,
    repeat: 'once', cooldownSec: null, expiresAt: null, state: 'active', armed: true, wentBack: false, side: null, referencePrice: null, lastPrice: null,
    lastFiredAt: null, fireCount: 0, snoozedUntil: null, note: null, source: 'x', createdAt: new Date(NOW), updatedAt: new Date(NOW),
  };
}

function services(alerts?: NonNullable<CommandServices['alerts']>): CommandServices {
  const config = loadConfig({ EXCHANGES: 'binance' });
  const hub = new MarketHub({ feeds: [new MemoryFeed('binance', new Set(['BTC/USDT']), new Map([['BTC/USDT', 100_000]]), () => NOW)], log, now: () => NOW });
  return { hub, config, now: () => NOW, ...(alerts ? { alerts } : {}) };
}

describe('admin rights in the command layer', () => {
  const asked: ChatRef[] = [];
  const nobody = async (chat: ChatRef) => {
    asked.push(chat);
    return false;
  };

  it('asks only in groups and only for commands that change something', async () => {
    const opts = { services: services(), log, canManage: nobody };
    expect(await dispatchCommand('/alert BTC > 1', group, opts)).toEqual({ kind: 'admins_only', subject: 'alerts' });
    expect(await dispatchCommand('/unwatch BTC', group, opts)).toEqual({ kind: 'admins_only', subject: 'watchlist' });
    expect(asked).toHaveLength(2);
    expect((await dispatchCommand('/price BTC', group, opts))?.kind).toBe('price');
    expect((await dispatchCommand('/help', group, opts))?.kind).toBe('help');
    // private chats and channels are run by whoever writes there; without a database the command says so
    for (const chat of [priv, channel]) expect(renderReply((await dispatchCommand('/delete 1', chat, opts))!, 'en')).toMatch(/^Alerts are still starting up/);
    expect(asked).toHaveLength(2);
  });

  it('lets everyone in when the platform has no notion of admins', async () => {
    const reply = await dispatchCommand('/delete 1', group, { services: services(), log });
    expect(renderReply(reply!, 'en')).toMatch(/^Alerts are still starting up/);
  });

  it("shows the platform's own explanation when it could not check", async () => {
    const canManage = async (): Promise<boolean> => {
      throw new UserInputError(msg('admins.cannotCheck'));
    };
    const reply = await dispatchCommand('/watch BTC', group, { services: services(), log, canManage });
    expect(reply).toEqual({ kind: 'error', text: msg('admins.cannotCheck') });
    expect(renderReply(reply!, 'en')).toBe("I couldn't check with Telegram whether you are an admin of this group. Try again in a minute.");
  });

  it('marks the chat reachable on any command of ours, not on other bots\' or unknown ones', async () => {
    const { alerts, calls } = fakeAlerts();
    const opts = { services: services(alerts), log, botUsername: 'MaxFlashBot' };
    await dispatchCommand('/price BTC', priv, opts);
    await dispatchCommand('/price@OtherBot BTC', priv, opts);
    await dispatchCommand('/prcie BTC', priv, opts);
    expect(calls).toEqual(['reactivate telegram:7']);
  });

  it('does not hold a command up on a slow reactivation', async () => {
    const { alerts } = fakeAlerts();
    alerts.reactivateChat = () => new Promise(() => {});
    const t0 = Date.now();
    expect((await dispatchCommand('/price BTC', priv, { services: services(alerts), log }))?.kind).toBe('price');
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});

describe('pressButton', () => {
  it('deletes, and from the list returns the list to redraw', async () => {
    const { alerts, calls } = fakeAlerts([rule(1), rule(2)]);
    const outcome = await pressButton('del:1:list', priv, { services: services(alerts), log });
    expect(outcome).toMatchObject({ kind: 'deleted', rule: { id: 1 }, list: { kind: 'alert_list', rules: [{ id: 2 }], max: 100 } });
    expect(await pressButton('del:2', priv, { services: services(alerts), log })).toEqual({ kind: 'deleted', rule: expect.objectContaining({ id: 2 }) });
    expect(await pressButton('del:2', priv, { services: services(alerts), log })).toEqual({ kind: 'gone' });
    expect(calls).toEqual(['delete 1', 'list', 'delete 2', 'delete 2']);
  });

  it('checks rights in groups before touching anything', async () => {
    const { alerts, calls } = fakeAlerts([rule(1)]);
    expect(await pressButton('del:1', group, { services: services(alerts), log, canManage: async () => false })).toEqual({ kind: 'admins_only', subject: 'alerts' });
    expect(calls).toEqual([]);
  });

  it('turns user errors into answers, and answers data it does not know with nothing', async () => {
    const { alerts } = fakeAlerts([rule(1)]);
    expect(await pressButton('rearm:1', priv, { services: services(alerts), log })).toEqual({
      kind: 'error', text: msg('alerts.quota', { count: 20, max: 20 }),
    });
    expect(await pressButton('whatever', priv, { services: services(alerts), log })).toEqual({ kind: 'unknown' });
    expect(await pressButton('snooze:1:3600', priv, { services: services(alerts), log })).toEqual({ kind: 'unknown' }); // this service has no snooze
    expect(await pressButton('del:1', priv, { services: services(), log })).toEqual({ kind: 'error', text: msg('starting.buttons') });
  });
});
