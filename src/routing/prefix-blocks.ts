/**
 * What prefix affinity knows of a request: chained hashes of fixed-size blocks of the whole
 * rendered conversation. Block i's hash covers every block before it, so two requests share
 * their first k hashes exactly when their first k blocks of text are equal — the property an
 * engine's prefix cache (vLLM's automatic prefix caching, SGLang's radix tree) is keyed on.
 *
 * The rendering is the gateway's own, not the engine's chat template: it only has to keep an
 * earlier turn's text as an exact prefix of the next turn's, which any rendering that appends
 * message after message does. Every message counts, so conversations that share a system
 * prompt share their first blocks and part where their own turns begin.
 */

/** About 64 tokens of English: coarse enough to keep the index small, fine enough to matter. */
export const PREFIX_BLOCK_CHARS = 256;
/** 128 KiB of text; beyond it the conversation is long enough that its head decides. */
export const MAX_PREFIX_BLOCKS = 512;

/** Chained hashes of the full blocks of `text`; `salt` (vLLM's `cache_salt`) seeds the chain. */
export function prefixBlockHashes(text: string, salt = '', blockChars = PREFIX_BLOCK_CHARS): number[] {
  const hashes: number[] = [];
  let previous = salt === '' ? 0 : hashRange(0, salt, 0, salt.length);
  for (let end = blockChars; end <= text.length && hashes.length < MAX_PREFIX_BLOCKS; end += blockChars) {
    previous = hashRange(previous, text, end - blockChars, end);
    hashes.push(previous);
  }
  return hashes;
}

/**
 * The text of a chat request as its prefix is compared: tools first (templates put them
 * there), then each message's role and content. Non-text content (images, tool calls) is
 * included as JSON, since it is part of what the engine prefills.
 */
export function renderChatForPrefix(messages: readonly unknown[], tools?: unknown): string {
  let text = tools === undefined || tools === null ? '' : `\u0002${JSON.stringify(tools)}`;
  for (const message of messages) {
    const { role, content, ...rest } = (message ?? {}) as Record<string, unknown>;
    text += `\u0000${String(role)}\u0001${typeof content === 'string' ? content : JSON.stringify(content ?? null)}`;
    // tool_calls, name, tool_call_id…: rendered too, in a stable order.
    const extras = Object.keys(rest).sort();
    if (extras.length > 0) text += `\u0001${JSON.stringify(extras.map((name) => [name, rest[name]]))}`;
  }
  return text;
}

/**
 * The text of a completions prompt: a string, or a single-element array of strings or of
 * token ids. A batch of prompts goes to one engine but shares no single prefix: none.
 */
export function renderPromptForPrefix(prompt: unknown): string | null {
  if (typeof prompt === 'string') return prompt;
  if (!Array.isArray(prompt)) return null;
  if (prompt.every((part) => typeof part === 'number')) return prompt.join(',');
  if (prompt.length === 1) return renderPromptForPrefix(prompt[0]);
  return null;
}

/**
 * cyrb53 (a public-domain 53-bit string hash) over `text[from, to)`, seeded with the previous
 * block's hash so the chain needs no concatenation. Not cryptographic: a collision only sends
 * a request to a worse engine, and clients cannot read the index.
 */
function hashRange(seed: number, text: string, from: number, to: number): number {
  let h1 = 0xdeadbeef ^ (seed >>> 0);
  let h2 = 0x41c6ce57 ^ Math.floor(seed / 0x100000000);
  for (let i = from; i < to; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 0x100000000 * (0x1fffff & h2) + (h1 >>> 0);
}

/**
 * The prefix hashes of a generating request's parsed body: its chat messages or its prompt,
 * salted by `cache_salt` as the engine salts its cache. Empty when there is no single prefix.
 */
export function requestPrefixHashes(body: Record<string, unknown>): number[] {
  const text = Array.isArray(body.messages)
    ? renderChatForPrefix(body.messages, body.tools)
    : renderPromptForPrefix(body.prompt);
  if (text === null) return [];
  return prefixBlockHashes(text, typeof body.cache_salt === 'string' ? body.cache_salt : '');
}
