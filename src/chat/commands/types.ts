import type { Config } from '../../config.js';
import type { MarketHub } from '../../market/hub.js';
import type { PriceTick } from '../../market/types.js';

export type Platform = 'telegram' | 'discord' | 'console';

/** Who asked, in platform-neutral terms; adapters build it from their update objects. */
export interface ChatRef {
  platform: Platform;
  /** the platform's chat/channel id as text */
  chatId: string;
  kind: 'private' | 'group' | 'channel';
  userId?: string;
  title?: string;
}

/** What a command answers: data, rendered to text per platform by chat/format.ts. */
export type Reply =
  | { kind: 'price'; tick: PriceTick; fromRest: boolean; now: number }
  | { kind: 'help'; commands: readonly CommandInfo[]; topic?: CommandInfo }
  | { kind: 'error'; message: string; example?: string }
  | { kind: 'unknown_command'; name: string; suggestion?: string }
  | { kind: 'not_a_command' };

export interface CommandInfo {
  name: string;
  usage: string;
  summary: string;
  examples: readonly string[];
}

/** The world a command may touch; narrow on purpose so commands stay testable without I/O. */
export interface CommandServices {
  hub: Pick<MarketHub, 'quote' | 'holdFor' | 'exchanges'>;
  config: Pick<Config, 'defaultQuote' | 'exchanges'>;
  now: () => number;
}

export interface CommandContext {
  chat: ChatRef;
  /** everything after the command name, trimmed */
  args: string;
  services: CommandServices;
}

export interface Command extends CommandInfo {
  aliases?: readonly string[];
  run(ctx: CommandContext): Promise<Reply>;
}
