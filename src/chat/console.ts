import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../log.js';
import { dispatchCommand, replyLanguage, type CommandServices } from './commands/index.js';
import type { ChatRef } from './commands/types.js';
import { renderReply } from './format.js';
import { t } from '../i18n/index.js';
import type { ChatFront, DeliveryOutcome } from './front.js';

export interface ConsoleChatOptions {
  input: Readable;
  output: Writable;
  services: CommandServices;
  log: Logger;
  /** show a "> " prompt (only useful on a real terminal) */
  prompt?: boolean;
}

const LOCAL_CHAT: ChatRef = { platform: 'console', chatId: 'local', kind: 'private', userId: 'local', title: 'terminal' };

/**
 * A chat on stdin/stdout, so the bot can be tried with no token at all. Lines are answered in order.
 * When the input ends (CI has no stdin, or the user pressed Ctrl-D) only the terminal chat stops; the bot
 * keeps running for its other fronts and the health endpoint.
 */
export class ConsoleChat implements ChatFront {
  readonly platform = 'console' as const;
  private rl: readline.Interface | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly opts: ConsoleChatOptions) {}

  async start(): Promise<void> {
    const { input, output, prompt } = this.opts;
    const rl = readline.createInterface({ input, terminal: false });
    this.rl = rl;
    rl.on('line', (line) => {
      this.queue = this.queue.then(() => this.answer(line));
    });
    rl.on('close', () => {
      this.closed = true;
      this.opts.log.info({ mod: 'console' }, 'terminal chat input ended; the bot keeps running');
    });
    input.on('error', (err) => this.opts.log.warn({ mod: 'console', err }, 'terminal chat input failed'));
    // before the database is open the terminal's stored language is unknown; /language ru applies from the next answer
    this.write(t('en', 'console.greeting'));
    if (prompt) output.write('> ');
  }

  async stop(): Promise<void> {
    this.rl?.close();
    await this.queue;
  }

  async send(_chatId: string, text: string): Promise<DeliveryOutcome> {
    this.write(text);
    return { ok: true };
  }

  private async answer(line: string): Promise<void> {
    if (line.trim() === '') return;
    const reply = await dispatchCommand(line, LOCAL_CHAT, { services: this.opts.services, log: this.opts.log });
    const text = reply && renderReply(reply, await replyLanguage(LOCAL_CHAT, this.opts.services, reply));
    if (text) this.write(text);
    if (this.opts.prompt && !this.closed) this.opts.output.write('> ');
  }

  private write(text: string): void {
    if (!this.opts.output.writable) return;
    this.opts.output.write(`${text}\n`);
  }
}
