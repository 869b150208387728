import { UserInputError } from '../../errors.js';
import { msg, parseLanguage, resolveLanguage } from '../../i18n/index.js';
import type { Command, CommandServices } from './types.js';

function settingsOf(services: CommandServices) {
  const alerts = services.alerts;
  if (!alerts?.language || !alerts.setLanguage) throw new UserInputError(msg('starting.settings'));
  return { get: alerts.language.bind(alerts), set: alerts.setLanguage.bind(alerts) };
}

export const language: Command = {
  name: 'language',
  aliases: ['lang'],
  usage: 'cmd.language.usage',
  summary: 'cmd.language.summary',
  examples: ['/language', '/language ru', '/language en'],
  mutates: 'settings',
  async run({ chat, args, services }) {
    const settings = settingsOf(services);
    const wanted = args.trim();
    if (wanted === '') return { kind: 'language', language: resolveLanguage(await settings.get(chat), chat.kind, chat.userLanguage), changed: false };
    const chosen = parseLanguage(wanted);
    if (!chosen) throw new UserInputError(msg('language.unknown', { input: wanted.slice(0, 30) }), '/language ru');
    await settings.set(chat, chosen);
    return { kind: 'language', language: chosen, changed: true };
  },
};
