/**
 * The three bearer credentials the gateway knows, told apart by prefix so that each door
 * accepts only its own kind:
 *   sk-<keyId>.<secret>     API key        → /v1/* (and the other OpenAI routes)
 *   snt-<tokenId>.<secret>  node token     → POST /nodes/register
 *   snc-<nodeId>.<secret>   node credential → the rest of /nodes/*, and gateway → agent calls
 * Secrets are stored and compared only as SHA-256 hashes, except the node credential, which
 * the gateway itself must present to the node.
 */
export type CredentialKind = 'apiKey' | 'nodeToken' | 'nodeCredential';

const PREFIX: Record<CredentialKind, string> = { apiKey: 'sk-', nodeToken: 'snt-', nodeCredential: 'snc-' };
const SHAPE = /^(sk|snt|snc)-([A-Za-z0-9]{8,64})\.([A-Za-z0-9_-]{16,128})$/;

export interface ParsedCredential {
  kind: CredentialKind;
  id: string;
  secret: string;
}

export function parseCredential(bearer: string): ParsedCredential | null {
  const match = SHAPE.exec(bearer);
  if (!match) return null;
  const [, prefix, id, secret] = match as unknown as [string, string, string, string];
  const kind = (Object.keys(PREFIX) as CredentialKind[]).find((k) => PREFIX[k] === `${prefix}-`);
  return kind ? { kind, id, secret } : null;
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

export function formatCredential(kind: CredentialKind, id: string, secret: string): string {
  return `${PREFIX[kind]}${id}.${secret}`;
}

/** A fresh id or secret: URL-safe, from the platform CSPRNG. */
export function randomToken(bytes: number): string {
  return hex(crypto.getRandomValues(new Uint8Array(bytes)));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function sha256Hex(text: string): Promise<string> {
  return hex(await digest(text));
}

/**
 * Compares a presented secret with the expected one in constant time. Both are hashed first,
 * so neither the length of the expected secret nor where the two differ shows in the timing.
 */
export async function secretsMatch(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(presented), digest(expected)]);
  return digestsEqual(a, b);
}

/**
 * Compares two digests (bytes, or hex strings) without an early exit, so the time taken says
 * nothing about where they differ. Digests of one algorithm have one length, so a length
 * mismatch reveals nothing secret.
 */
export function digestsEqual(a: Uint8Array | string, b: Uint8Array | string): boolean {
  const x = typeof a === 'string' ? new TextEncoder().encode(a) : a;
  const y = typeof b === 'string' ? new TextEncoder().encode(b) : b;
  if (x.length !== y.length) return false;
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= x[i]! ^ y[i]!;
  return difference === 0;
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

/** Hex characters of an id's random part and of its tag. */
const ID_PART = 16;

/**
 * An id that proves it was made by whoever holds `secret`: 16 hex characters of randomness,
 * then 16 of an HMAC-SHA256 tag over them. The gateway refuses an id whose tag is wrong before
 * it touches any storage, so made-up keys cost nothing and create nothing.
 */
export async function signedId(secret: string): Promise<string> {
  const random = randomToken(ID_PART / 2);
  return random + (await idTag(secret, random));
}

export async function idSignedWith(secret: string, id: string): Promise<boolean> {
  if (id.length !== ID_PART * 2) return false;
  return digestsEqual(id.slice(ID_PART), await idTag(secret, id.slice(0, ID_PART)));
}

async function idTag(secret: string, random: string): Promise<string> {
  const mac = await hmac(secret, random);
  return hex(mac.subarray(0, ID_PART / 2));
}

/**
 * A node's credential, derived from its id under the gateway's secret: the gateway stores it
 * nowhere and computes it again to check a node's calls or to sign its own calls to the node.
 * The label keeps it apart from key-id tags, whose input is 16 hex characters.
 */
export async function derivedNodeCredential(secret: string, nodeId: string): Promise<string> {
  const mac = await hmac(secret, `node-credential:${nodeId}`);
  return formatCredential('nodeCredential', nodeId, hex(mac));
}

async function hmac(secret: string, text: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text)));
}
