import type { Command, CommandInfo } from './types.js';

/** Built lazily from the registry so help can never list a command that does not exist. */
export function makeHelp(list: () => readonly CommandInfo[]): Command {
  return {
    name: 'help',
    aliases: ['start', 'commands'],
    usage: 'cmd.help.usage',
    summary: 'cmd.help.summary',
    examples: ['/help', '/help price'],
    async run({ args }) {
      const wanted = args.trim().replace(/^\//, '').toLowerCase();
      const commands = list();
      const topic = wanted ? commands.find((c) => c.name === wanted) : undefined;
      return topic ? { kind: 'help', commands, topic } : { kind: 'help', commands };
    },
  };
}
