import { FeedError, UserInputError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { AlertPayload } from '../../delivery/notification.js';
import type { ButtonRows } from '../front.js';
import { describeConditionIn } from '../format.js';
import { msg, t, type Lang } from '../../i18n/index.js';
import { toRuleView } from './alert.js';
import { mayManage, type DispatchOptions } from './index.js';
import type { ButtonOutcome, ChatRef, CommandServices, Reply } from './types.js';

/**
 * Buttons under messages, platform-neutral: what each carries as data, which a message gets, and what a
 * press does. Data is a short token ("del:12", "snooze:12:3600"): platforms cap it (Telegram at 64 bytes)
 * and users' clients can send any, so every press is checked again (chat, rights, rule) as a command is.
 */

export type ButtonAction =
  /** fromList: pressed under /alerts, whose message is then redrawn without the row */
  | { kind: 'delete'; ruleId: number; fromList: boolean }
  | { kind: 'rearm'; ruleId: number }
  | { kind: 'snooze'; ruleId: number; seconds: number };

export const SNOOZE_SECONDS = 3600;
/** a forged or old button cannot park a rule for longer than this */
const MAX_SNOOZE_SECONDS = 7 * 86_400;
/** Telegram shows at most about a hundred buttons; past this many rules, /delete <id> still works */
const MAX_LIST_BUTTONS = 50;
const LABEL_CHARS = 40;

export function buttonData(action: ButtonAction): string {
  switch (action.kind) {
    case 'delete':
      return `del:${action.ruleId}${action.fromList ? ':list' : ''}`;
    case 'rearm':
      return `rearm:${action.ruleId}`;
    case 'snooze':
      return `snooze:${action.ruleId}:${action.seconds}`;
  }
}

/** The inverse of buttonData; null for anything else (a button of an older version, a forged press). */
export function parseButtonData(data: string): ButtonAction | null {
  const m = /^(del|rearm|snooze):(\d{1,9})(?::(list|\d{1,7}))?$/.exec(data);
  if (!m) return null;
  const ruleId = Number(m[2]);
  const extra = m[3];
  if (ruleId === 0) return null;
  switch (m[1]) {
    case 'del':
      return extra === undefined || extra === 'list' ? { kind: 'delete', ruleId, fromList: extra === 'list' } : null;
    case 'rearm':
      return extra === undefined ? { kind: 'rearm', ruleId } : null;
    default: {
      const seconds = Number(extra);
      return extra !== undefined && extra !== 'list' && seconds >= 60 && seconds <= MAX_SNOOZE_SECONDS ? { kind: 'snooze', ruleId, seconds } : null;
    }
  }
}

/**
 * Under a fired alert. A one-shot rule is off once it fired, so its message offers to bring it back, now
 * or in an hour; a repeating one is still on, so its message offers quiet for an hour, or to delete it.
 */
export function alertButtons(p: Pick<AlertPayload, 'ruleId' | 'final' | 'language'>): ButtonRows {
  // the payload says which language its text was worded in; rows written before languages existed are English
  const lang = p.language ?? 'en';
  const snooze = { label: t(lang, 'button.snooze'), data: buttonData({ kind: 'snooze', ruleId: p.ruleId, seconds: SNOOZE_SECONDS }) };
  if (p.final) return [[{ label: t(lang, 'button.rearm'), data: buttonData({ kind: 'rearm', ruleId: p.ruleId }) }, snooze]];
  return [[snooze, { label: t(lang, 'button.delete'), data: buttonData({ kind: 'delete', ruleId: p.ruleId, fromList: false }) }]];
}

/** The buttons a command reply carries, if any: /alerts gets a ❌ per rule. */
export function replyButtons(reply: Reply, lang: Lang): ButtonRows | undefined {
  // a channel's list is read in the private chat, where a press would act on the private chat's own rules
  if (reply.kind !== 'alert_list' || reply.rules.length === 0 || reply.channel) return undefined;
  return reply.rules.slice(0, MAX_LIST_BUTTONS).map((r) => {
    const label = `❌ #${r.id} ${describeConditionIn(lang, r.condition, r.pair)}`;
    return [{ label: label.length > LABEL_CHARS ? `${label.slice(0, LABEL_CHARS - 1)}…` : label, data: buttonData({ kind: 'delete', ruleId: r.id, fromList: true }) }];
  });
}

export interface PressOptions {
  services: CommandServices;
  log: Logger;
  /** as for commands: in groups, whether the presser is an admin */
  canManage?: DispatchOptions['canManage'];
}

/** What a press did; never throws (as dispatchCommand, mistakes become messages and bugs are logged). */
export async function pressButton(data: string, chat: ChatRef, opts: PressOptions): Promise<ButtonOutcome> {
  const action = parseButtonData(data);
  if (!action) return { kind: 'unknown' };
  try {
    // Every reader of a channel sees the buttons under its alerts; only the channel's admins may press them.
    if (chat.kind === 'channel' && opts.canManage && !(await opts.canManage(chat))) return { kind: 'admins_only', subject: 'alerts', where: 'channel' };
    if (!(await mayManage(chat, opts.canManage))) return { kind: 'admins_only', subject: 'alerts' };
    return await perform(action, chat, opts.services);
  } catch (err) {
    if (err instanceof UserInputError) return { kind: 'error', text: err.text };
    if (err instanceof FeedError) return { kind: 'error', text: msg('button.exchangeDown', { exchange: err.exchange }) };
    opts.log.error({ err, button: action.kind, platform: chat.platform }, 'button press failed');
    return { kind: 'error', text: msg('button.internal') };
  }
}

async function perform(action: ButtonAction, chat: ChatRef, services: CommandServices): Promise<ButtonOutcome> {
  const alerts = services.alerts;
  if (!alerts) return { kind: 'error', text: msg('starting.buttons') };
  switch (action.kind) {
    case 'delete': {
      const [gone] = await alerts.delete(chat, action.ruleId);
      if (!gone) return { kind: 'gone' };
      if (!action.fromList) return { kind: 'deleted', rule: toRuleView(gone) };
      const rules = (await alerts.list(chat)).map(toRuleView);
      return { kind: 'deleted', rule: toRuleView(gone), list: { kind: 'alert_list', rules, max: services.config.maxRulesPerChat } };
    }
    case 'rearm': {
      if (!alerts.rearm) return { kind: 'unknown' };
      const r = await alerts.rearm(chat, action.ruleId);
      if (!r) return { kind: 'gone' };
      return r.already ? { kind: 'already_on', ruleId: r.rule.id } : { kind: 'rearmed', ruleId: r.rule.id, holdsNow: r.holdsNow };
    }
    case 'snooze': {
      if (!alerts.snooze) return { kind: 'unknown' };
      const r = await alerts.snooze(chat, action.ruleId, action.seconds);
      return r ? { kind: 'snoozed', ruleId: r.rule.id, until: r.until, now: services.now() } : { kind: 'gone' };
    }
  }
}
