import type { ChatSettings } from '../db/chats.js';
import type { RuleOwner } from './record-firings.js';

/**
 * What a firing's message is worded by — the rule's chat and note, the chat's language, timezone and
 * webhook — kept in memory, so a firing needs no read before its write (a read was ~1 ms of the ~5 ms
 * from tick to Telegram). It is only a guess: the write checks every field against the rows in the same
 * statement (record-firings.ts), and a firing that finds them changed is read afresh and written again.
 * So an entry left behind by a change made elsewhere (the dispatcher switching a webhook off, a second
 * process, a manual UPDATE) costs one more round trip, never a message worded by stale settings.
 *
 * Memory stays per rule a map entry of two small integers (a note only where the rule has one) and per
 * chat one small object: a million rules cost tens of megabytes, not a row each.
 */
export class WordingCache {
  private readonly ruleChat = new Map<number, number>();
  private readonly ruleNote = new Map<number, string>();
  private readonly chats = new Map<number, ChatSettings>();

  owner(ruleId: number): RuleOwner | undefined {
    const chatId = this.ruleChat.get(ruleId);
    return chatId === undefined ? undefined : { chatId, note: this.ruleNote.get(ruleId) ?? null };
  }

  setOwner(ruleId: number, owner: RuleOwner): void {
    this.ruleChat.set(ruleId, owner.chatId);
    if (owner.note === null) this.ruleNote.delete(ruleId);
    else this.ruleNote.set(ruleId, owner.note);
  }

  dropRule(ruleId: number): void {
    this.ruleChat.delete(ruleId);
    this.ruleNote.delete(ruleId);
  }

  settings(chatId: number): ChatSettings | undefined {
    return this.chats.get(chatId);
  }

  hasChat(chatId: number): boolean {
    return this.chats.has(chatId);
  }

  setSettings(chatId: number, settings: ChatSettings): void {
    this.chats.set(chatId, settings);
  }

  dropChat(chatId: number): void {
    this.chats.delete(chatId);
  }
}
