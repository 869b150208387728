import { UserInputError } from '../../errors.js';
import { msg } from '../../i18n/index.js';
import type { Command, CommandServices } from './types.js';

const EXAMPLE = '/timezone Europe/Berlin';

/**
 * Intl knows the IANA database; a name it rejects is not a timezone. Node's ICU resolves current names
 * to older aliases (Asia/Kolkata → Asia/Calcutta), so the user's own name is kept, with its usual
 * capitalisation, whenever Intl accepts it.
 */
export function canonicalTimezone(input: string): string | null {
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: input }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
  if (resolved.toLowerCase() === input.toLowerCase()) return resolved;
  return input
    .split('/')
    .map((segment) => segment.split('_').map((w) => (w ? w[0]!.toUpperCase() + w.slice(1).toLowerCase() : w)).join('_'))
    .join('/');
}

function settingsOf(services: CommandServices) {
  const alerts = services.alerts;
  if (!alerts?.timezone || !alerts.setTimezone) throw new UserInputError(msg('starting.settings'));
  return { get: alerts.timezone.bind(alerts), set: alerts.setTimezone.bind(alerts) };
}

export const timezone: Command = {
  name: 'timezone',
  aliases: ['tz'],
  usage: 'cmd.timezone.usage',
  summary: 'cmd.timezone.summary',
  examples: ['/timezone', EXAMPLE, '/timezone America/New_York', '/timezone UTC'],
  mutates: 'settings',
  async run({ chat, args, services }) {
    const settings = settingsOf(services);
    const wanted = args.trim();
    if (wanted === '') return { kind: 'timezone', timezone: await settings.get(chat), changed: false, now: services.now() };
    if (/^(utc|gmt|off|none|reset)$/i.test(wanted)) {
      await settings.set(chat, null);
      return { kind: 'timezone', timezone: null, changed: true, now: services.now() };
    }
    if (wanted.length > 64 || /\s/.test(wanted)) throw new UserInputError(msg('timezone.oneName'), EXAMPLE);
    const zone = canonicalTimezone(wanted);
    // Fixed offsets ("+03:00", "Etc/GMT-3") are accepted by Intl but mislead around daylight saving; ask for a place.
    if (!zone || !zone.includes('/') || zone.startsWith('Etc/')) {
      throw new UserInputError(msg('timezone.unknown', { input: wanted.slice(0, 40) }), EXAMPLE);
    }
    await settings.set(chat, zone);
    return { kind: 'timezone', timezone: zone, changed: true, now: services.now() };
  },
};
