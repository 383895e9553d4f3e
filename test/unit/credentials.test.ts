/** The bearer credentials: their shape, the Authorization header, and how secrets are compared. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bearerToken,
  formatCredential,
  parseCredential,
  randomToken,
  secretsMatch,
  sha256Hex,
  type CredentialKind,
} from '../../src/credentials.ts';

const KINDS: CredentialKind[] = ['apiKey', 'nodeToken', 'nodeCredential'];
const kind = fc.constantFrom(...KINDS);
const id = fc.stringMatching(/^[A-Za-z0-9]{8,64}$/);
const secret = fc.stringMatching(/^[A-Za-z0-9_-]{16,128}$/);

describe('parseCredential / formatCredential', () => {
  it('round-trips every kind, id and secret of the allowed shape', () => {
    fc.assert(
      fc.property(kind, id, secret, (k, i, s) => {
        expect(parseCredential(formatCredential(k, i, s))).toEqual({ kind: k, id: i, secret: s });
      }),
    );
  });

  it('tells the kinds apart by prefix', () => {
    const [i, s] = ['abcdefgh', 'A'.repeat(16)];
    expect(formatCredential('apiKey', i, s)).toBe(`sk-${i}.${s}`);
    expect(formatCredential('nodeToken', i, s)).toBe(`snt-${i}.${s}`);
    expect(formatCredential('nodeCredential', i, s)).toBe(`snc-${i}.${s}`);
  });

  it('parses what the gateway mints (ids of 8 random bytes, secrets of 24)', () => {
    for (const k of KINDS) {
      const [i, s] = [randomToken(8), randomToken(24)];
      expect(parseCredential(formatCredential(k, i, s))).toEqual({ kind: k, id: i, secret: s });
    }
  });

  const good = { id: 'abcd1234', secret: 'secret_SECRET-0123' };
  it.each([
    ['empty', ''],
    ['prefix only', 'sk-'],
    ['unknown prefix', `pk-${good.id}.${good.secret}`],
    ['upper-case prefix', `SK-${good.id}.${good.secret}`],
    ['no dot', `sk-${good.id}${good.secret}`],
    ['two dots', `sk-${good.id}.${good.secret}.x`],
    ['id too short', `sk-abcd123.${good.secret}`],
    ['id too long', `sk-${'a'.repeat(65)}.${good.secret}`],
    ['id with a dash', `sk-abcd-1234.${good.secret}`],
    ['id with an underscore', `sk-abcd_1234.${good.secret}`],
    ['secret too short', `sk-${good.id}.${'s'.repeat(15)}`],
    ['secret too long', `sk-${good.id}.${'s'.repeat(129)}`],
    ['secret with a dot', `sk-${good.id}.secret.secret.secret`],
    ['secret with a slash', `sk-${good.id}.secret/secret/secret`],
    ['non-ASCII letter', `sk-abcd123é.${good.secret}`],
    ['leading space', ` sk-${good.id}.${good.secret}`],
    ['trailing space', `sk-${good.id}.${good.secret} `],
    ['trailing newline', `sk-${good.id}.${good.secret}\n`],
    ['a whole header', `Bearer sk-${good.id}.${good.secret}`],
  ])('rejects a malformed credential: %s', (_label, text) => {
    expect(parseCredential(text)).toBeNull();
  });

  it('rejects a valid credential with any character outside the alphabet put in', () => {
    const outside = fc
      .oneof(
        fc.constantFrom(' ', '/', '+', '=', ':', '\n', '\0', 'é', '🔑'),
        fc.integer({ min: 0, max: 0x10ffff }).map((code) => String.fromCodePoint(code)),
      )
      .filter((c) => !/[A-Za-z0-9_.-]/.test(c));
    fc.assert(
      fc.property(kind, id, secret, outside, fc.nat(), (k, i, s, c, at) => {
        const text = formatCredential(k, i, s);
        const pos = at % (text.length + 1);
        expect(parseCredential(text.slice(0, pos) + c + text.slice(pos))).toBeNull();
      }),
    );
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer sk-abc.def', 'sk-abc.def'],
    ['bearer tok', 'tok'],
    ['BEARER tok', 'tok'],
    ['Bearer    tok', 'tok'],
    ['Bearer\ttok', 'tok'],
    ['Bearer tok  ', 'tok'],
  ])('reads the token of %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([
    ['no header', undefined],
    ['null', null],
    ['empty', ''],
    ['scheme only', 'Bearer'],
    ['scheme and space', 'Bearer '],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['no space after the scheme', 'Bearertok'],
    ['two tokens', 'Bearer tok other'],
    ['a bare token', 'sk-abc.def'],
  ])('finds no token: %s', (_label, header) => {
    expect(bearerToken(header)).toBeNull();
  });

  it('returns any token without whitespace as it was sent', () => {
    const token = fc.string({ minLength: 1 }).filter((t) => !/\s/.test(t));
    fc.assert(
      fc.property(token, (t) => {
        expect(bearerToken(`Bearer ${t}`)).toBe(t);
      }),
    );
  });
});

describe('secretsMatch', () => {
  // Any Unicode scalar value, astral planes included. (Lone surrogates are left out: UTF-8
  // encoding turns each into U+FFFD, so '\uD800' and '\uFFFD' hash alike. Header values are
  // byte strings, so no presented secret can hold one.)
  const scalar = fc.oneof(fc.integer({ min: 0, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff }));
  const text = fc.string({ unit: scalar.map((c) => String.fromCodePoint(c)) });

  it('is true for equal strings and false otherwise', async () => {
    await fc.assert(
      fc.asyncProperty(text, text, fc.nat(), async (a, b, at) => {
        expect(await secretsMatch(a, a)).toBe(true);
        expect(await secretsMatch(a, b)).toBe(a === b);
        // b spliced into a: a near miss of a different length (or a itself, when b is empty).
        const pos = at % (a.length + 1);
        const near = a.slice(0, pos) + b + a.slice(pos);
        expect(await secretsMatch(near, a)).toBe(near === a);
      }),
    );
  });

  it.each([
    ['a prefix', 'secret', 'secret-and-more'],
    ['an extension', 'secret-and-more', 'secret'],
    ['empty against non-empty', '', 'x'],
    ['case', 'Secret', 'secret'],
    ['composed and decomposed é', '\u00e9', 'e\u0301'],
    ['different emoji', '🔑', '🔒'],
    ['a trailing NUL', 'secret', 'secret\u0000'],
  ])('tells apart %s', async (_label, a, b) => {
    expect(await secretsMatch(a, b)).toBe(false);
    expect(await secretsMatch(b, a)).toBe(false);
  });

  it('matches equal unicode and empty strings', async () => {
    expect(await secretsMatch('', '')).toBe(true);
    expect(await secretsMatch('ключ-🔑-鍵', 'ключ-🔑-鍵')).toBe(true);
  });
});

describe('sha256Hex', () => {
  it('matches the published test vectors', async () => {
    expect(await sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes the UTF-8 bytes of the text', async () => {
    // SHA-256 of the two bytes C3 A9 ("é" in UTF-8).
    expect(await sha256Hex('é')).toBe('4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c');
  });
});

describe('randomToken', () => {
  it('is lower-case hex, two characters a byte, and fresh each time', () => {
    const tokens = Array.from({ length: 50 }, () => randomToken(24));
    for (const t of tokens) expect(t).toMatch(/^[0-9a-f]{48}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});
