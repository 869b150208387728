import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES, RateLimiter, REPLY_GRACE_MS, TELEGRAM_WINDOW_MS, type ChatKind, type Limit, type Platform, type Priority } from '../../../src/delivery/limits.js';
import { busiestWindow } from '../../helpers/wait.js';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

/**
 * Checks grant times against one limit. A window limit: never more than `limit` (or, for alert traffic
 * alone, `limit - replyHeadroom`) in any window. A bucket: n grants in a row span at least
 * (n - burst)·interval - lateMs — the token-bucket promise, which also bounds any window W by about
 * burst + (W + lateMs)/interval.
 */
function violations(limit: Limit, all: readonly number[], alerts: readonly number[]): string[] {
  const found: string[] = [];
  if (limit.type === 'window') {
    const most = busiestWindow(all, limit.windowMs);
    if (most > limit.limit) found.push(`${most} sends in ${limit.windowMs} ms (limit ${limit.limit})`);
    const mostAlerts = busiestWindow(alerts, limit.windowMs);
    if (mostAlerts > limit.limit - limit.replyHeadroom) found.push(`${mostAlerts} alert sends in ${limit.windowMs} ms`);
    return found;
  }
  const check = (times: readonly number[], burst: number, what: string) => {
    for (let i = 0; i < times.length; i++) {
      for (let j = i + burst; j < times.length; j++) {
        // less a nanosecond: a fractional interval (such as 1030/30 ms) multiplied out is not exact in binary
        if (times[j]! - times[i]! < (j - i - burst + 1) * limit.intervalMs - (limit.lateMs ?? 0) - 1e-6) {
          found.push(`${what}: ${j - i + 1} sends within ${times[j]! - times[i]!} ms`);
          return;
        }
      }
    }
  };
  check(all, limit.burst, 'all');
  check(alerts, limit.burst - limit.replyHeadroom, 'alerts');
  return found;
}

interface Grant {
  platform: Platform;
  chat: string;
  kind: ChatKind;
  priority: Priority;
  at: number;
}

/** Every limit of every platform and chat the grants touched, checked over the whole schedule. */
function allViolations(grants: readonly Grant[]): string[] {
  const found: string[] = [];
  const groups = new Map<string, { limits: readonly Limit[]; grants: Grant[] }>();
  const add = (key: string, limits: readonly Limit[], g: Grant) => {
    const entry = groups.get(key) ?? { limits, grants: [] };
    entry.grants.push(g);
    groups.set(key, entry);
  };
  for (const g of grants) {
    add(g.platform, DEFAULT_POLICIES[g.platform].global, g);
    add(`${g.platform}/${g.chat}`, DEFAULT_POLICIES[g.platform].chat[g.kind], g);
  }
  for (const [key, { limits, grants: list }] of groups) {
    const all = list.map((g) => g.at);
    const alerts = list.filter((g) => g.priority === 'alert').map((g) => g.at);
    for (const limit of limits) for (const v of violations(limit, all, alerts)) found.push(`${key}: ${v}`);
  }
  return found;
}

/**
 * Drives a limiter the way the dispatcher does: every pending request asks at the current time, and the
 * clock then jumps to the earliest moment one of the refused ones may ask again (never a busy loop).
 */
function drain(limiter: RateLimiter, requests: Array<Omit<Grant, 'at'>>, start = T0): { grants: Grant[]; steps: number; end: number } {
  let now = start;
  let pending = requests;
  const grants: Grant[] = [];
  let steps = 0;
  while (pending.length > 0) {
    steps++;
    let soonest = Number.POSITIVE_INFINITY;
    const left: typeof pending = [];
    for (const r of pending) {
      const wait = limiter.reserve(r.platform, r.chat, r.kind, now, { priority: r.priority });
      if (wait === 0) grants.push({ ...r, at: now });
      else {
        if (!(wait > 0)) throw new Error(`reserve returned ${wait}`);
        soonest = Math.min(soonest, wait);
        left.push(r);
      }
    }
    pending = left;
    if (pending.length) now += soonest;
  }
  return { grants, steps, end: now };
}

describe('RateLimiter', () => {
  it('sends a burst to many private Telegram chats evenly spaced at the overall limit, never above it', () => {
    // 2 000 rather than the benchmark's 10 000: with spacing every grant is its own step, and this drain
    // is quadratic in the pending requests
    const n = 2_000;
    const limiter = new RateLimiter();
    const requests = Array.from({ length: n }, (_, i) => ({ platform: 'telegram' as const, chat: `u${i}`, kind: 'private' as const, priority: 'alert' as const }));
    const { grants, end } = drain(limiter, requests);
    const times = grants.map((g) => g.at);
    expect(grants).toHaveLength(n);
    // all 30/s go to alerts when no reply waits; a second plus 30 ms of network jitter still holds no more
    expect(busiestWindow(times, 1_000)).toBe(30);
    expect(busiestWindow(times, TELEGRAM_WINDOW_MS)).toBe(30);
    expect(allViolations(grants)).toEqual([]);
    // evenly: one at a time, 1035/30 = 34.5 ms apart, the first turns up to lateMs (5 ms) early
    expect(times.slice(0, 5).map((t) => t - T0)).toEqual([0, 30, 64, 99, 133]);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(30);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(40);
    // and as fast as the window allows: 30 per 1035 ms = 29.0/s, 96.6 % of 30/s
    expect(end - T0).toBeLessThanOrEqual(Math.ceil(((n - 1) * TELEGRAM_WINDOW_MS) / 30));
  });

  it('lets a private chat burst briefly, then about one message a second', () => {
    const limiter = new RateLimiter();
    const times: number[] = [];
    for (let now = T0; times.length < 10; ) {
      const wait = limiter.reserve('telegram', 'u1', 'private', now);
      if (wait === 0) times.push(now);
      else now += wait;
    }
    // the second of the burst waits only for the platform's spacing
    expect(times.map((t) => t - T0)).toEqual([0, 30, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000]);
    // after a quiet spell the burst is back
    expect(limiter.reserve('telegram', 'u1', 'private', T0 + 20_000)).toBe(0);
    expect(limiter.reserve('telegram', 'u1', 'private', T0 + 20_030)).toBe(0);
    expect(limiter.chatWait('telegram', 'u1', 'private', T0 + 20_060)).toBe(940);
  });

  it('holds a group or channel to 20 messages a minute (18 for alerts)', () => {
    for (const kind of ['group', 'channel'] as const) {
      const limiter = new RateLimiter();
      const requests = Array.from({ length: 60 }, () => ({ platform: 'telegram' as const, chat: 'g1', kind, priority: 'alert' as const }));
      const times: number[] = [];
      let now = T0;
      for (const r of requests) {
        for (;;) {
          const wait = limiter.reserve(r.platform, r.chat, r.kind, now);
          if (wait === 0) break;
          now += wait;
        }
        times.push(now);
      }
      expect(busiestWindow(times, 60_000)).toBe(18);
      expect(times.filter((t) => t < T0 + 60_000)).toHaveLength(18);
      expect(times[18]).toBe(T0 + 60_000); // the 19th waits exactly until the first leaves the minute
    }
    // a reply still fits in the two places alerts leave free
    const limiter = new RateLimiter();
    let now = T0;
    for (let sent = 0; sent < 18; now += 1_000) if (limiter.reserve('telegram', 'g1', 'group', now) === 0) sent++;
    expect(limiter.reserve('telegram', 'g1', 'group', now)).toBe(T0 + 60_000 - now);
    expect(limiter.reserve('telegram', 'g1', 'group', now, { priority: 'reply' })).toBe(0);
    expect(limiter.reserve('telegram', 'g1', 'group', now + 1_000, { priority: 'reply' })).toBe(0);
    expect(limiter.reserve('telegram', 'g1', 'group', now + 2_000, { priority: 'reply' })).toBe(T0 + 60_000 - now - 2_000);
  });

  it('holds Discord to 50 requests a second overall; the terminal is unlimited', () => {
    const limiter = new RateLimiter();
    const { grants } = drain(limiter, Array.from({ length: 500 }, (_, i) => ({ platform: 'discord' as const, chat: `c${i}`, kind: 'group' as const, priority: 'alert' as const })));
    expect(busiestWindow(grants.map((g) => g.at), 1_000)).toBe(50); // none kept back for replies: see the reply hold
    expect(allViolations(grants)).toEqual([]);
    for (let i = 0; i < 10_000; i++) expect(limiter.reserve('console', 'local', 'private', T0)).toBe(0);
    expect(limiter.size()).toBe(500); // the console keeps no buckets
  });

  it('pauses a chat for exactly retry_after, and only that chat', () => {
    const limiter = new RateLimiter();
    limiter.pause('telegram', 'u1', T0 + 5_000);
    expect(limiter.reserve('telegram', 'u1', 'private', T0)).toBe(5_000);
    expect(limiter.reserve('telegram', 'u1', 'private', T0 + 4_999, { priority: 'reply' })).toBe(1);
    expect(limiter.reserve('telegram', 'u2', 'private', T0)).toBe(0);
    expect(limiter.reserve('telegram', 'u1', 'private', T0 + 5_000)).toBe(0);
    // a shorter pause does not cut a longer one short
    limiter.pause('telegram', 'u3', T0 + 10_000);
    limiter.pause('telegram', 'u3', T0 + 2_000);
    expect(limiter.reserve('telegram', 'u3', 'group', T0 + 2_000)).toBe(8_000);
  });

  it('treats 429s of three different chats within a second as the platform throttling the bot', () => {
    const limiter = new RateLimiter();
    expect(limiter.refused('telegram', 'u1', T0, T0 + 2_000)).toBe('chat');
    expect(limiter.refused('telegram', 'u1', T0 + 100, T0 + 2_100)).toBe('chat'); // the same chat again is still one chat
    expect(limiter.refused('telegram', 'u2', T0 + 200, T0 + 5_000)).toBe('chat');
    expect(limiter.reserve('telegram', 'u9', 'private', T0 + 300)).toBe(0); // two chats: others still go
    expect(limiter.refused('telegram', 'u3', T0 + 400, T0 + 1_400)).toBe('platform');
    // every chat waits for the longest retry_after among the three
    expect(limiter.platformWait('telegram', T0 + 400)).toBe(4_600);
    expect(limiter.reserve('discord', 'd1', 'private', T0 + 400)).toBe(0); // and only on that platform
    expect(limiter.reserve('telegram', 'u10', 'private', T0 + 5_000)).toBe(0);

    // refusals spread wider than a second stay per chat
    const spread = new RateLimiter();
    expect(spread.refused('telegram', 'a', T0, T0 + 1_000)).toBe('chat');
    expect(spread.refused('telegram', 'b', T0 + 600, T0 + 1_600)).toBe('chat');
    expect(spread.refused('telegram', 'c', T0 + 1_200, T0 + 2_200)).toBe('chat');
    expect(spread.platformWait('telegram', T0 + 1_200)).toBe(0);
  });

  it('pauses a whole platform on a global 429, and only that platform', () => {
    const limiter = new RateLimiter();
    limiter.pause('discord', null, T0 + 3_000);
    expect(limiter.platformWait('discord', T0)).toBe(3_000);
    expect(limiter.reserve('discord', 'c1', 'group', T0 + 1_000)).toBe(2_000);
    expect(limiter.reserve('telegram', 'u1', 'private', T0)).toBe(0);
    expect(limiter.reserve('discord', 'c1', 'group', T0 + 3_000)).toBe(0);
    expect(limiter.platformWait('discord', T0 + 3_000)).toBe(0);
    // a reply refused by the pause is first in line when it ends
    limiter.pause('discord', null, T0 + 6_000);
    expect(limiter.reserve('discord', 'c2', 'private', T0 + 5_500, { priority: 'reply' })).toBe(500);
    expect(limiter.platformWait('discord', T0 + 6_000)).toBe(REPLY_GRACE_MS);
    expect(limiter.reserve('discord', 'c2', 'private', T0 + 6_000, { priority: 'reply' })).toBe(0);
    expect(limiter.platformWait('discord', T0 + 6_000)).toBe(0);
  });

  it('does not spend platform tokens on a chat that has to wait', () => {
    const limiter = new RateLimiter();
    limiter.pause('telegram', 'busy', T0 + 60_000);
    for (let i = 0; i < 100; i++) expect(limiter.reserve('telegram', 'busy', 'private', T0)).toBeGreaterThan(0);
    expect(limiter.chatWait('telegram', 'busy', 'private', T0)).toBe(60_000);
    expect(limiter.platformWait('telegram', T0)).toBe(0);
    // the platform's next token is still there, and then its spacing
    expect(limiter.reserve('telegram', 'u0', 'private', T0)).toBe(0);
    expect(limiter.platformWait('telegram', T0)).toBe(30);
    expect(limiter.chatWait('telegram', 'u2', 'private', T0)).toBe(0);
  });

  it('sweeps idle chat buckets, but never one still limiting or paused', () => {
    // no overall limit here, so every chat gets its token at once
    const telegram = { ...DEFAULT_POLICIES.telegram, global: [] };
    const limiter = new RateLimiter({ sweepEveryMs: Number.POSITIVE_INFINITY, policies: { telegram } });
    for (let i = 0; i < 1_000; i++) limiter.reserve('telegram', `u${i}`, 'private', T0 + i);
    limiter.reserve('telegram', 'g', 'group', T0);
    limiter.pause('telegram', 'paused', T0 + 600_000);
    expect(limiter.size()).toBe(1_002);
    expect(limiter.sweep(T0 + 500)).toBe(0); // every bucket still has a token out
    expect(limiter.sweep(T0 + 1_999)).toBe(1_000); // private buckets refill in a second; the group holds its minute
    expect(limiter.size()).toBe(2);
    expect(limiter.sweep(T0 + 60_000)).toBe(1);
    expect(limiter.sweep(T0 + 600_000)).toBe(1);
    expect(limiter.size()).toBe(0);
  });

  it('sweeps on its own as the clock moves, without changing any decision', () => {
    const requests = Array.from({ length: 1_500 }, (_, i) => ({ platform: 'telegram' as const, chat: `u${i % 300}`, kind: (i % 7 === 0 ? 'group' : 'private') as ChatKind, priority: 'alert' as const }));
    const eager = new RateLimiter({ sweepEveryMs: 0 });
    const never = new RateLimiter({ sweepEveryMs: Number.POSITIVE_INFINITY });
    expect(drain(eager, requests).grants).toEqual(drain(never, requests).grants);
    expect(eager.size()).toBeLessThan(never.size());
  });

  it('gives the platform token a refused reply waits for to the reply, not to the alerts asking meanwhile', () => {
    const limiter = new RateLimiter();
    expect(limiter.reserve('telegram', 'u0', 'private', T0)).toBe(0);
    expect(limiter.reserve('telegram', 'u1', 'private', T0)).toBe(30); // the spacing
    // the platform's limits bind replies too; the refused reply now holds the next token
    expect(limiter.reserve('telegram', 'waiting-user', 'private', T0, { priority: 'reply' })).toBe(30);
    // an alert asking when that token frees is told to wait out the reply (and its grace for a late timer)…
    expect(limiter.platformWait('telegram', T0 + 30)).toBe(REPLY_GRACE_MS);
    expect(limiter.reserve('telegram', 'u1', 'private', T0 + 30)).toBe(REPLY_GRACE_MS);
    expect(limiter.platformWait('telegram', T0 + 30, 'reply')).toBe(0);
    // …and the reply, coming back 2 ms late, still finds the token free
    expect(limiter.reserve('telegram', 'waiting-user', 'private', T0 + 32, { priority: 'reply' })).toBe(0);
    // once it has it, alerts wait only for the spacing again: they lost just the token the reply used
    expect(limiter.platformWait('telegram', T0 + 32)).toBe(32);
    expect(limiter.reserve('telegram', 'u1', 'private', T0 + 64)).toBe(0);

    // a chat's own limits keep their share for replies: in a chat flooded with alerts, the answer goes at once
    const fresh = new RateLimiter();
    expect(fresh.reserve('telegram', 'a', 'private', T0)).toBe(0);
    expect(fresh.reserve('telegram', 'a', 'private', T0 + 30)).toBe(0);
    expect(fresh.reserve('telegram', 'a', 'private', T0 + 64)).toBe(936);
    expect(fresh.reserve('telegram', 'a', 'private', T0 + 64, { priority: 'reply' })).toBe(0);
  });

  it('holds nothing for a reply whose own chat keeps it waiting', () => {
    const limiter = new RateLimiter();
    limiter.pause('telegram', 'slow', T0 + 5_000);
    expect(limiter.reserve('telegram', 'u0', 'private', T0)).toBe(0);
    // the platform's next token is 30 ms off, the chat's 5 s: alerts may use the platform meanwhile
    expect(limiter.reserve('telegram', 'slow', 'private', T0, { priority: 'reply' })).toBe(5_000);
    expect(limiter.platformWait('telegram', T0)).toBe(30);
    expect(limiter.reserve('telegram', 'u1', 'private', T0 + 30)).toBe(0);
  });

  it('stops holding a token for a reply that never comes back, REPLY_GRACE_MS after it was due', () => {
    const limiter = new RateLimiter();
    expect(limiter.reserve('telegram', 'u0', 'private', T0)).toBe(0);
    expect(limiter.reserve('telegram', 'gone', 'private', T0, { priority: 'reply' })).toBe(30); // due at +30, then aborted
    expect(limiter.platformWait('telegram', T0 + 10)).toBe(30 + REPLY_GRACE_MS - 10);
    expect(limiter.reserve('telegram', 'u1', 'private', T0 + 30 + REPLY_GRACE_MS - 1)).toBe(1);
    expect(limiter.platformWait('telegram', T0 + 30 + REPLY_GRACE_MS)).toBe(0);
    expect(limiter.reserve('telegram', 'u1', 'private', T0 + 30 + REPLY_GRACE_MS)).toBe(0);
    // later alerts go at the spacing as before
    expect(limiter.platformWait('telegram', T0 + 30 + REPLY_GRACE_MS)).toBeGreaterThan(REPLY_GRACE_MS);
    expect(limiter.platformWait('telegram', T0 + 30 + REPLY_GRACE_MS)).toBeLessThanOrEqual(35);
  });

  /**
   * The dispatcher's loop on a fake clock: one line of alert asks, each asking platformWait and then
   * taking the token (the two must agree), or coming back after the wait plus 0–2 ms of timer lateness;
   * beside it, replies asking at `replies` (ms after T0), each retrying after its wait plus lateness.
   */
  function dispatcherLike(durationMs: number, replies: readonly number[], lateness: readonly number[]) {
    const limiter = new RateLimiter();
    let k = 0;
    const late = () => lateness[k++ % lateness.length]!;
    const alerts: number[] = [];
    const all: number[] = [];
    const replyWaits: number[] = [];
    let alertAt = T0;
    const replyAt = replies.map((r) => T0 + r);
    const pending = new Set(replies.keys());
    while (alertAt < T0 + durationMs || pending.size > 0) {
      // the earliest asker goes first; a reply on the same ms as an alert goes first (the worse case for it
      // is the other way round, covered by the replies that land between alert asks)
      let next: number | undefined;
      for (const i of pending) if (next === undefined || replyAt[i]! < replyAt[next]!) next = i;
      if (next !== undefined && (replyAt[next]! <= alertAt || alertAt >= T0 + durationMs)) {
        const now = replyAt[next]!;
        const wait = limiter.reserve('telegram', `reply${next}`, 'private', now, { priority: 'reply' });
        if (wait === 0) {
          pending.delete(next);
          replyWaits.push(now - (T0 + replies[next]!));
          all.push(now);
        } else replyAt[next] = now + wait + late();
        continue;
      }
      const wait = limiter.platformWait('telegram', alertAt);
      if (wait === 0) {
        expect(limiter.reserve('telegram', `alert${alerts.length}`, 'private', alertAt)).toBe(0);
        alerts.push(alertAt);
        all.push(alertAt);
      } else {
        expect(limiter.reserve('telegram', `alert${alerts.length}`, 'private', alertAt)).toBe(wait);
        alertAt += wait + late();
      }
    }
    return { alerts, all: all.sort((a, b) => a - b), replyWaits };
  }

  it('lets alerts alone use nearly all of the 30/s for a minute, with timers firing 0–2 ms late', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 100 }), (lateness) => {
        const { alerts, all } = dispatcherLike(60_000, [], lateness);
        expect(alerts.length / 60).toBeGreaterThanOrEqual(28.9);
        expect(busiestWindow(all, TELEGRAM_WINDOW_MS)).toBeLessThanOrEqual(30);
      }),
      { numRuns: 20 },
    );
  });

  it('answers a reply that arrives during a full alert burst within 40 ms', () => {
    fc.assert(
      fc.property(
        // replies far enough apart that none waits behind another, anywhere in the window's cycle
        fc.array(fc.integer({ min: 150, max: 1_200 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 100 }),
        (gaps, lateness) => {
          const replies = gaps.map((_, i) => 2_000 + gaps.slice(0, i + 1).reduce((a, b) => a + b, 0));
          const { alerts, all, replyWaits } = dispatcherLike(replies.at(-1)! + 1_000, replies, lateness);
          expect(replyWaits).toHaveLength(replies.length);
          expect(Math.max(...replyWaits)).toBeLessThanOrEqual(40);
          expect(busiestWindow(all, TELEGRAM_WINDOW_MS)).toBeLessThanOrEqual(30);
          // the alerts lost the replies' tokens and not much else
          expect(alerts.length + replies.length).toBeGreaterThanOrEqual(Math.floor(((replies.at(-1)! + 1_000) / 1_000) * 28.9));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('holds any window (1035 ms) to 30 Telegram sends, for random alerts and replies, some replies never coming back', () => {
    // Telegram counts arrivals: a grant pattern that fits 30 per 1000 ms on our clock but packs 31 into
    // 1035 ms would go over once jitter shifts a few messages by 35 ms.
    const arrival = fc.record({
      dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3_000 })),
      chats: fc.integer({ min: 1, max: 40 }),
      priority: fc.constantFrom<Priority>('alert', 'alert', 'alert', 'reply'),
      /** how late the asker comes back after a refusal, like a timer firing late on a busy machine */
      late: fc.integer({ min: 0, max: 12 }),
      /** a reply gives up after this many refusals (its front stopped), leaving its hold behind */
      giveUpAfter: fc.option(fc.integer({ min: 1, max: 3 }), { freq: 3 }),
    });
    fc.assert(
      fc.property(fc.array(arrival, { minLength: 1, maxLength: 20 }), (arrivals) => {
        const limiter = new RateLimiter();
        type Ask = { chat: string; priority: Priority; at: number; late: number; refusalsLeft: number };
        const queue: Ask[] = [];
        let t = T0;
        let n = 0;
        for (const a of arrivals) {
          t += a.dt;
          const refusalsLeft = a.priority === 'reply' && a.giveUpAfter !== null ? a.giveUpAfter : Number.POSITIVE_INFINITY;
          for (let i = 0; i < a.chats; i++) queue.push({ chat: `c${n++}`, priority: a.priority, at: t, late: a.late, refusalsLeft });
        }
        const granted: Grant[] = [];
        while (queue.length > 0) {
          let next = 0;
          queue.forEach((q, i) => {
            if (q.at < queue[next]!.at) next = i;
          });
          const ask = queue.splice(next, 1)[0]!;
          // what the dispatcher asks before reserving must be what reserve then says (every chat here is fresh)
          const told = limiter.platformWait('telegram', ask.at, ask.priority);
          const wait = limiter.reserve('telegram', ask.chat, 'private', ask.at, { priority: ask.priority });
          expect(wait).toBe(told);
          if (wait === 0) granted.push({ platform: 'telegram', chat: ask.chat, kind: 'private', priority: ask.priority, at: ask.at });
          else if (ask.refusalsLeft > 1) queue.push({ ...ask, at: ask.at + wait + ask.late, refusalsLeft: ask.refusalsLeft - 1 });
        }
        const times = granted.map((g) => g.at).sort((a, b) => a - b);
        expect(busiestWindow(times, TELEGRAM_WINDOW_MS)).toBeLessThanOrEqual(30);
        expect(busiestWindow(times, 1_000)).toBeLessThanOrEqual(30);
        // the spacing: at most two within one interval (34.5 ms), never two closer than interval - lateMs
        expect(busiestWindow(times, 34)).toBeLessThanOrEqual(2);
        expect(busiestWindow(times, 29)).toBeLessThanOrEqual(1);
        expect(allViolations(granted)).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it('never lets any window exceed any limit, for random request streams', () => {
    const kinds: ChatKind[] = ['private', 'private', 'private', 'group', 'group', 'channel', 'private', 'group', 'channel'];
    const arrival = fc.record({
      dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 5_000 })),
      platform: fc.constantFrom<Platform>('telegram', 'discord'),
      chat: fc.integer({ min: 0, max: kinds.length - 1 }),
      /** several messages at once, so the platform limits are reached too */
      count: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 60 })),
      priority: fc.constantFrom<Priority>('alert', 'alert', 'reply'),
      pause: fc.option(fc.record({ global: fc.boolean(), ms: fc.integer({ min: 1, max: 30_000 }) }), { freq: 10 }),
    });
    fc.assert(
      fc.property(fc.array(arrival, { maxLength: 120 }), fc.constantFrom(0, 1_000, Number.POSITIVE_INFINITY), (arrivals, sweepEveryMs) => {
        const limiter = new RateLimiter({ sweepEveryMs });
        const pausedUntil = new Map<string, number>();
        const grants: Grant[] = [];
        // Refused requests ask again exactly when told, like the dispatcher: that lands on every boundary.
        type Ask = Omit<Grant, 'at'> & { at: number; pause: (typeof arrivals)[number]['pause'] };
        const queue: Ask[] = [];
        let t = T0;
        for (const a of arrivals) {
          t += a.dt;
          for (let i = 0; i < a.count; i++) queue.push({ platform: a.platform, chat: `c${a.chat}`, kind: kinds[a.chat]!, priority: a.priority, at: t, pause: i === 0 ? a.pause : null });
        }
        for (let steps = 0; queue.length > 0; steps++) {
          if (steps > 100_000) throw new Error('requests never got through');
          let next = 0;
          queue.forEach((q, i) => {
            if (q.at < queue[next]!.at) next = i;
          });
          const ask = queue.splice(next, 1)[0]!;
          const now = ask.at;
          if (ask.pause) {
            const key = ask.pause.global ? ask.platform : `${ask.platform}/${ask.chat}`;
            limiter.pause(ask.platform, ask.pause.global ? null : ask.chat, now + ask.pause.ms);
            pausedUntil.set(key, Math.max(pausedUntil.get(key) ?? 0, now + ask.pause.ms));
          }
          const wait = limiter.reserve(ask.platform, ask.chat, ask.kind, now, { priority: ask.priority });
          const pausedFor = Math.max(pausedUntil.get(ask.platform) ?? 0, pausedUntil.get(`${ask.platform}/${ask.chat}`) ?? 0) - now;
          if (wait === 0) {
            if (pausedFor > 0) throw new Error(`granted ${pausedFor} ms before a pause ended`);
            grants.push({ platform: ask.platform, chat: ask.chat, kind: ask.kind, priority: ask.priority, at: now });
          } else {
            if (!(wait >= pausedFor && wait > 0)) throw new Error(`wait ${wait} shorter than the pause (${pausedFor})`);
            queue.push({ ...ask, at: now + wait, pause: null });
          }
        }
        expect(allViolations(grants)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps a wait honest: asking again after it is granted (one request at a time per chat)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 300 }), (chats) => {
        const limiter = new RateLimiter();
        const kinds: ChatKind[] = ['private', 'group', 'channel', 'private', 'private', 'group', 'private', 'private', 'private'];
        let now = T0;
        for (const c of chats) {
          const wait = limiter.reserve('telegram', `c${c}`, kinds[c]!, now);
          if (wait > 0) {
            // nothing else asked meanwhile, so the wait is exactly enough
            expect(limiter.reserve('telegram', `c${c}`, kinds[c]!, now + wait - 1)).toBeGreaterThan(0);
            expect(limiter.reserve('telegram', `c${c}`, kinds[c]!, now + wait)).toBe(0);
            now += wait;
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
