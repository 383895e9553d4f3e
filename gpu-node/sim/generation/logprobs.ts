/**
 * Log-probabilities for the simulated tokens: the emitted token is always the most likely one
 * (greedy-looking), the alternatives are other lorem words with lower values. Seeded per choice, so
 * a repeated request reports the same numbers. Shapes: chat's `logprobs.content[]` entries and the
 * completions API's parallel arrays.
 */
import { seededRandom, WORDS } from '../text-model.ts';

interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface TokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Array<Record<string, number>>;
  text_offset: number[];
}

const round = (value: number): number => Math.round(value * 1e4) / 1e4;
const bytesOf = (token: string): number[] => [...Buffer.from(token, 'utf8')];

/** One entry per output token; `top` alternatives each (the token itself first). */
export function tokenLogprobs(tokens: readonly string[], top: number, seed: number): TokenLogprob[] {
  const random = seededRandom(seed ^ 0x5bd1e995);
  return tokens.map((token) => {
    const logprob = round(-random() * 1.5);
    const spaced = token.startsWith(' ');
    const alternatives: TopLogprob[] = [{ token, logprob, bytes: bytesOf(token) }];
    let value = logprob;
    while (alternatives.length < top) {
      const word = WORDS[Math.floor(random() * WORDS.length)] ?? 'lorem';
      const candidate = spaced ? ` ${word}` : word;
      if (alternatives.some((alternative) => alternative.token === candidate)) continue;
      value = round(value - 0.5 - random() * 2);
      alternatives.push({ token: candidate, logprob: value, bytes: bytesOf(candidate) });
    }
    return { token, logprob, bytes: bytesOf(token), top_logprobs: alternatives.slice(0, top) };
  });
}

/** The completions API's shape for a run of tokens starting at character `offset` of the text. */
export function completionLogprobs(entries: readonly TokenLogprob[], offset: number): CompletionLogprobs {
  const shaped: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let position = offset;
  for (const entry of entries) {
    shaped.tokens.push(entry.token);
    shaped.token_logprobs.push(entry.logprob);
    shaped.top_logprobs.push(Object.fromEntries(entry.top_logprobs.map((top) => [top.token, top.logprob])));
    shaped.text_offset.push(position);
    position += entry.token.length;
  }
  return shaped;
}
