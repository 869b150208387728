import { describe, expect, it } from 'vitest';
import { nextDelay } from '../../../src/lib/backoff.js';

const opts = { baseMs: 1000, capMs: 30_000 };

describe('nextDelay', () => {
  it('doubles from the base without jitter', () => {
    expect([0, 1, 2, 3, 4].map((a) => nextDelay(a, { ...opts, jitter: 0 }))).toEqual([1000, 2000, 4000, 8000, 16_000]);
  });

  it('never exceeds the cap, even for huge or odd attempts', () => {
    for (const attempt of [5, 6, 50, 1e9, Infinity]) expect(nextDelay(attempt, { ...opts, jitter: 0 })).toBe(30_000);
    expect(nextDelay(-3, { ...opts, jitter: 0 })).toBe(1000);
    expect(nextDelay(1.7, { ...opts, jitter: 0 })).toBe(2000);
  });

  it('keeps the default jitter within [half, full] of the ceiling', () => {
    expect(nextDelay(2, { ...opts, random: () => 0 })).toBe(2000);
    expect(nextDelay(2, { ...opts, random: () => 0.999999 })).toBe(4000);
    for (let i = 0; i < 200; i++) {
      const d = nextDelay(3, opts);
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });

  it('full jitter spans zero to the ceiling', () => {
    expect(nextDelay(10, { ...opts, jitter: 1, random: () => 0 })).toBe(0);
    expect(nextDelay(10, { ...opts, jitter: 1, random: () => 0.5 })).toBe(15_000);
  });
});
