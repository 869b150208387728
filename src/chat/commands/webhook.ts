import { UserInputError } from '../../errors.js';
import { msg } from '../../i18n/index.js';
import { isPrivateHost } from '../../lib/net.js';
import type { Command, CommandServices } from './types.js';

const EXAMPLE = '/webhook https://example.org/hook';
const MAX_URL = 500;
/** The URL to post to, normalised; throws a UserInputError saying what is wrong. */
export function validateWebhookUrl(input: string, opts: { allowLocal?: boolean } = {}): string {
  if (input.length > MAX_URL || /\s/.test(input)) throw new UserInputError(msg('webhook.oneUrl', { max: MAX_URL }), EXAMPLE);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new UserInputError(msg('webhook.notUrl', { input: input.slice(0, 60) }), EXAMPLE);
  }
  const local = isPrivateHost(url.hostname);
  if (local && !opts.allowLocal) {
    throw new UserInputError(msg('webhook.local'), EXAMPLE);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new UserInputError(msg('webhook.https'), EXAMPLE);
  }
  // the status reply shows the URL: a password in it would be shown to everyone in the chat
  if (url.username || url.password) throw new UserInputError(msg('webhook.credentials'), EXAMPLE);
  return url.toString();
}

function webhooksOf(services: CommandServices) {
  const alerts = services.alerts;
  if (!alerts?.webhook || !alerts.setWebhook || !alerts.removeWebhook) throw new UserInputError(msg('starting.settings'));
  return { get: alerts.webhook.bind(alerts), set: alerts.setWebhook.bind(alerts), remove: alerts.removeWebhook.bind(alerts) };
}

export const webhook: Command = {
  name: 'webhook',
  usage: 'cmd.webhook.usage',
  summary: 'cmd.webhook.summary',
  examples: ['/webhook', EXAMPLE, '/webhook off'],
  mutates: 'settings',
  async run({ chat, args, services }) {
    const hooks = webhooksOf(services);
    const wanted = args.trim();
    if (wanted === '') return { kind: 'webhook_status', webhook: await hooks.get(chat) };
    if (/^(off|none|remove|delete)$/i.test(wanted)) return { kind: 'webhook_removed', removed: await hooks.remove(chat) };
    const { url, secret } = await hooks.set(chat, validateWebhookUrl(wanted, { allowLocal: services.config.webhookAllowLocal }));
    return { kind: 'webhook_set', url, secret };
  },
};
