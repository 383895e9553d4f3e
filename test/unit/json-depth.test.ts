import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonNestsDeeperThan } from '../../src/json-depth.ts';

const enc = new TextEncoder();

/** The nesting depth of a parsed value, the reference the byte scan must agree with. */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (value !== null && typeof value === 'object')
    return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

describe('jsonNestsDeeperThan', () => {
  it('agrees with the depth of the parsed value for any JSON, brackets in strings included', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), fc.nat({ max: 14 }), (value, max) => {
        const text = JSON.stringify(value);
        expect(jsonNestsDeeperThan(enc.encode(text), max)).toBe(depthOf(value) > max);
      }),
      { numRuns: 500 },
    );
  });

  it('ignores brackets and escaped quotes inside strings', () => {
    expect(jsonNestsDeeperThan(enc.encode('{"a":"[[[[\\"{{{{"}'), 1)).toBe(false);
  });

  it('refuses a body nested a million deep after reading only as far as the limit', () => {
    const deep = enc.encode('['.repeat(1_000_000) + ']'.repeat(1_000_000));
    expect(jsonNestsDeeperThan(deep, 128)).toBe(true);
  });
});
