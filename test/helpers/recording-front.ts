import type { ChatFront, DeliveryOutcome } from '../../src/chat/front.js';

export interface Sent {
  chatId: string;
  text: string;
  at: number;
}

/**
 * A ChatFront for tests of the delivery path (our own seam, not a platform client): it records every
 * attempt and answers with programmed outcomes, per chat (`script`) or in order for any chat (`outcomes`).
 */
export class RecordingFront implements ChatFront {
  readonly sent: Sent[] = [];
  readonly attempts: Sent[] = [];
  readonly script = new Map<string, DeliveryOutcome[]>();
  readonly outcomes: DeliveryOutcome[] = [];
  private waiters: Array<() => void> = [];

  constructor(
    readonly platform: ChatFront['platform'] = 'console',
    private readonly clock: () => number = Date.now,
  ) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async send(chatId: string, text: string): Promise<DeliveryOutcome> {
    const record = { chatId, text, at: this.clock() };
    this.attempts.push(record);
    const outcome = this.script.get(chatId)?.shift() ?? this.outcomes.shift() ?? { ok: true };
    if (outcome.ok) this.sent.push(record);
    for (const wake of this.waiters.splice(0)) wake();
    return outcome;
  }

  to(chatId: string): Sent[] {
    return this.sent.filter((s) => s.chatId === chatId);
  }

  /** Resolves once `n` messages were accepted; rejects after timeoutMs. */
  async waitForSent(n: number, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.sent.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} sent, got ${this.sent.length}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}
