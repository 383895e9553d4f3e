import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idSignedWith, parseCredential, signedId } from '../../src/credentials.ts';

describe('signed key ids', () => {
  it('accepts an id made with the same secret and fits the API key shape', async () => {
    const id = await signedId('gateway-secret');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(await idSignedWith('gateway-secret', id)).toBe(true);
    expect(parseCredential(`sk-${id}.${'a'.repeat(64)}`)?.id).toBe(id);
  });

  it('refuses the id under another secret, and any id with a changed character', async () => {
    const id = await signedId('gateway-secret');
    expect(await idSignedWith('another-secret', id)).toBe(false);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 31 }), fc.constantFrom(...'0123456789abcdef'), async (at, hex) => {
        fc.pre(id[at] !== hex);
        const changed = id.slice(0, at) + hex + id.slice(at + 1);
        expect(await idSignedWith('gateway-secret', changed)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses ids of the wrong length', async () => {
    const id = await signedId('s');
    expect(await idSignedWith('s', id.slice(1))).toBe(false);
    expect(await idSignedWith('s', `${id}0`)).toBe(false);
  });
});
