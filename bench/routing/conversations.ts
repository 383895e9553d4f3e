/**
 * The benchmark's chat traffic: conversations that open with one of a few shared system
 * prompts (the popular ones more often) and grow turn by turn, each turn carrying the whole
 * history, as chat clients send it. Seeded, so every policy faces the same conversations.
 */
import type { Workload } from './scenario.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

const WORDS = (
  'account billing invoice refund order shipping address warranty policy customer support ticket ' +
  'escalate product return exchange payment card charge subscription plan upgrade cancel renew ' +
  'delivery tracking package damaged missing replacement credit balance statement receipt tax'
).split(' ');

/** mulberry32: small, seeded, good enough to draw a workload from. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

function words(random: () => number, chars: number): string {
  let text = '';
  while (text.length < chars) text += `${WORDS[Math.floor(random() * WORDS.length)]} `;
  return text.slice(0, chars);
}

const between = (random: () => number, [low, high]: [number, number]) =>
  low + Math.floor(random() * (high - low + 1));

export class ConversationSource {
  private readonly systemPrompts: string[];
  private readonly weights: number[];
  private readonly workload: Workload;

  /** `tag` makes every prompt of this run new to the engines' caches and the router's index. */
  constructor(workload: Workload, tag: string) {
    this.workload = workload;
    const random = seededRandom(7);
    this.systemPrompts = Array.from(
      { length: workload.systemPrompts },
      (_, i) =>
        `[${tag}] You are assistant ${i} of the support desk. ${words(random, workload.systemPromptChars)}`,
    );
    // Zipf-like popularity: prompt i is chosen with weight 1/(i+1).
    this.weights = this.systemPrompts.map((_, i) => 1 / (i + 1));
  }

  /** A new conversation: its system prompt, and how many user turns it will have. */
  open(random: () => number): { messages: ChatMessage[]; turns: number } {
    const total = this.weights.reduce((sum, w) => sum + w, 0);
    let draw = random() * total;
    let index = 0;
    while (draw >= this.weights[index]! && index < this.weights.length - 1) draw -= this.weights[index++]!;
    return {
      messages: [{ role: 'system', content: this.systemPrompts[index]! }],
      turns: between(random, this.workload.turns),
    };
  }

  userMessage(random: () => number): ChatMessage {
    return { role: 'user', content: words(random, between(random, this.workload.userMessageChars)) };
  }
}
