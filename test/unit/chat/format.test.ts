import { describe, expect, it } from 'vitest';
import { formatAge, formatPercent, formatPrice } from '../../../src/chat/format.js';

describe('formatPrice', () => {
  it.each([
    [97234.1234, '97,234.12'],
    [1000, '1,000.00'],
    [3.14159, '3.1416'],
    [0.5, '0.5'],
    [0.00001234, '0.00001234'],
    [0.000000123456789, '0.000000123457'],
    [0, '0'],
    [Number.NaN, '—'],
  ])('%d → %s', (value, text) => expect(formatPrice(value)).toBe(text));
});

describe('formatPercent', () => {
  it.each([
    [1.5, '+1.50%'],
    [-0.125, '−0.13%'],
    [0, '±0.00%'],
  ])('%d → %s', (value, text) => expect(formatPercent(value)).toBe(text));
});

describe('formatAge', () => {
  it.each([
    [0, 'just now'],
    [2_400, '2 s ago'],
    [90_000, '2 min ago'],
    [3 * 3600_000, '3 h ago'],
    [72 * 3600_000, '3 d ago'],
    [-5_000, 'just now'],
  ])('%d ms → %s', (ms, text) => expect(formatAge('en', ms)).toBe(text));
});
