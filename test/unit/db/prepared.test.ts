import { describe, expect, it } from 'vitest';
import { PREPARED, statementName } from '../../../src/db/client.js';

describe('prepared statement names', () => {
  it('names only SQL that asks for it, the same text always alike and different texts apart', () => {
    const a = `${PREPARED}\n  SELECT $1::int`;
    const b = `\n    ${PREPARED} SELECT $1::text`;
    expect(statementName({ sql: 'SELECT 1' })).toBe('');
    expect(statementName({ sql: `SELECT 1 ${PREPARED}` })).toBe('');
    expect(statementName({ sql: a })).toMatch(/^mf_[0-9a-f]{20}$/);
    expect(statementName({ sql: a })).toBe(statementName({ sql: a }));
    expect(statementName({ sql: b })).not.toBe(statementName({ sql: a }));
  });

  it('stops preparing new texts after a few dozen, so varying text cannot fill the server', () => {
    const names = Array.from({ length: 100 }, (_, i) => statementName({ sql: `${PREPARED} SELECT ${i}` }));
    expect(names.filter((n) => n !== '').length).toBeLessThanOrEqual(32);
    expect(names.at(-1)).toBe('');
  });
});
