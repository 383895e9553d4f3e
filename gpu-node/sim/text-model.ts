/**
 * The simulator's stand-ins for a tokenizer, a chat template, sampling and an embedding model.
 * All are deterministic and cheap: the router needs token counts, stable prefixes and repeatable
 * outputs, not language.
 */
import { hash } from 'node:crypto';
import { tokenOfId } from './token-ids.ts';

/** English BPE tokenizers average roughly four characters per token. */
const CHARS_PER_TOKEN = 4;

/** Splits text into pseudo-tokens of four characters each. */
export function tokenizeText(text: string): string[] {
  const tokens: string[] = [];
  for (let start = 0; start < text.length; start += CHARS_PER_TOKEN) {
    tokens.push(text.slice(start, start + CHARS_PER_TOKEN));
  }
  return tokens;
}

/** Token ids sent by the client (`prompt: [1, 2, 3]`) count one token each; see token-ids.ts. */
export function tokenizeIds(ids: readonly number[]): string[] {
  return ids.map(tokenOfId);
}

export interface ChatMessageLike {
  role: string;
  content?: unknown;
  tool_calls?: unknown;
}

function renderContent(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => {
      if (typeof part !== 'object' || part === null) return '';
      const typed = part as { type?: unknown; text?: unknown };
      return typeof typed.text === 'string' ? typed.text : `<${String(typed.type ?? 'part')}>`;
    })
    .join('');
}

/**
 * Renders a conversation the way a chat template would, so that a conversation that grows turn by
 * turn keeps its earlier text as an exact prefix (what prefix caching and prefix affinity rely on).
 */
export function renderChat(
  messages: readonly ChatMessageLike[],
  tools: unknown,
  addGenerationPrompt: boolean,
): string {
  let text = tools === undefined || tools === null ? '' : `<|tools|>\n${JSON.stringify(tools)}<|end|>\n`;
  for (const message of messages) {
    const toolCalls = message.tool_calls === undefined ? '' : JSON.stringify(message.tool_calls);
    text += `<|${message.role}|>\n${renderContent(message.content)}${toolCalls}<|end|>\n`;
  }
  return addGenerationPrompt ? `${text}<|assistant|>\n` : text;
}

/**
 * Chained hashes of the prompt's full blocks: block i's hash covers block i-1's, so equal hashes
 * mean equal prefixes (the scheme vLLM's automatic prefix caching uses). `salt` is vLLM's
 * `cache_salt`: different salts never share blocks.
 */
export function chainedBlockHashes(tokens: readonly string[], blockSize: number, salt: string): string[] {
  const hashes: string[] = [];
  let previous = salt;
  for (let end = blockSize; end <= tokens.length; end += blockSize) {
    previous = hash(
      'sha1',
      `${previous}\u0000${tokens.slice(end - blockSize, end).join('\u0001')}`,
      'base64',
    );
    hashes.push(previous);
  }
  return hashes;
}

export function seedOf(text: string): number {
  return Number.parseInt(hash('sha1', text, 'hex').slice(0, 8), 16);
}

/** mulberry32: a tiny seeded generator; the same seed always yields the same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

export const WORDS = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et ' +
  'dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea ' +
  'commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur'
).split(' ');

/** The output's tokens, one word each, chosen by a generator seeded from the prompt. */
export function outputTokens(promptSeed: number, count: number): string[] {
  const random = seededRandom(promptSeed);
  const tokens: string[] = [];
  for (let index = 0; index < count; index++) {
    const word = WORDS[Math.floor(random() * WORDS.length)] ?? 'lorem';
    tokens.push(index === 0 ? word : ` ${word}`);
  }
  return tokens;
}

/** A unit vector determined by the input text alone. */
export function embeddingOf(text: string, dimension: number): Float32Array {
  const random = seededRandom(seedOf(text));
  const vector = new Float32Array(dimension);
  let squares = 0;
  for (let index = 0; index < dimension; index++) {
    const value = random() * 2 - 1;
    vector[index] = value;
    squares += value * value;
  }
  const norm = Math.sqrt(squares) || 1;
  for (let index = 0; index < dimension; index++) vector[index] = (vector[index] ?? 0) / norm;
  return vector;
}
