/**
 * What a request will generate, decided before it runs: per choice, the output tokens (lorem words,
 * JSON that fits a schema, one of a list of choices, or a tool call's arguments), the finish
 * reason, and the stop string that cut it. Every API (chat, completions, responses, messages,
 * interactive) parses its own body into an `OutputRequest` and answers from the `ChoicePlan`s.
 */
import type { GenerationPlan } from '../sim-engine.ts';
import { SimError } from '../sim-error.ts';
import { outputTokens, seededRandom, seedOf, tokenizeText } from '../text-model.ts';
import { jsonFromSchema } from './json-from-schema.ts';

export interface ToolSpec {
  name: string;
  parameters: unknown;
}

/** `auto` calls a tool unless the conversation ends with a tool's result, so agent loops end. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type OutputShape =
  | { kind: 'text' }
  | { kind: 'json'; schema?: unknown }
  | { kind: 'choice'; options: readonly string[] }
  | { kind: 'tool_call'; tool: ToolSpec };

export interface OutputRequest {
  promptTokens: readonly string[];
  /** The request's output limit (`max_tokens` and its kin), if it set one. */
  limit: number | undefined;
  /**
   * `exact`: a limit is the output's length (what benchmarks use to set output lengths);
   * `cap`: text runs to `--max-tokens-default` unless the limit cuts it (Anthropic's required
   * `max_tokens` is a ceiling, not a target).
   */
  limitMode: 'exact' | 'cap';
  n: number;
  seed: number | undefined;
  stop: readonly string[];
  shape: OutputShape;
  cacheSalt: string;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface ChoicePlan {
  plan: GenerationPlan;
  finish: FinishReason;
  /** The stop string that ended the output (vLLM's `stop_reason`), or null. */
  stopReason: string | null;
  /** Set when the choice is a tool call; its arguments are the joined output tokens. */
  toolName: string | undefined;
  /** Seeds this choice's logprobs. */
  seed: number;
}

export interface PlanLimits {
  maxModelLen: number;
  maxTokensDefault: number;
}

/** The prompt's seed: the same prompt (and the same `seed`) always gives the same output. */
export function promptSeed(promptTokens: readonly string[], seed: number | undefined): number {
  const prompt = promptTokens.join('');
  return seedOf(seed === undefined ? prompt : `${seed}\u0000${prompt}`);
}

export function decideTool(
  tools: readonly ToolSpec[],
  choice: ToolChoice | undefined,
  afterToolResult: boolean,
  seed: number,
): ToolSpec | undefined {
  if (choice === 'none') return undefined;
  if (typeof choice === 'object') {
    const named = tools.find((tool) => tool.name === choice.name);
    if (named === undefined) {
      throw new SimError(`tool_choice names \`${choice.name}\`, which is not among the tools`, {
        status: 400,
        param: 'tool_choice',
      });
    }
    return named;
  }
  if (tools.length === 0) {
    if (choice === 'required')
      throw new SimError('tool_choice is required but no tools were given', {
        status: 400,
        param: 'tool_choice',
      });
    return undefined;
  }
  if (choice !== 'required' && afterToolResult) return undefined;
  return tools[seed % tools.length];
}

/** Cuts the output before the first stop string, as vLLM does (the stop string is not included). */
function applyStop(tokens: string[], stops: readonly string[]): { tokens: string[]; matched: string | null } {
  const text = tokens.join('');
  let cut = -1;
  let matched: string | null = null;
  for (const stop of stops) {
    const at = stop === '' ? -1 : text.indexOf(stop);
    if (at >= 0 && (cut < 0 || at < cut)) [cut, matched] = [at, stop];
  }
  if (cut < 0) return { tokens, matched: null };
  const kept: string[] = [];
  let end = 0;
  for (const token of tokens) {
    if (end + token.length >= cut) {
      kept.push(token.slice(0, cut - end));
      break;
    }
    kept.push(token);
    end += token.length;
  }
  return { tokens: kept, matched };
}

function contextError(limits: PlanLimits, prompt: number, output: number): SimError {
  return new SimError(
    `This model's maximum context length is ${limits.maxModelLen} tokens. However, you requested ` +
      `${prompt + output} tokens (${prompt} in the messages, ${output} in the completion). ` +
      'Please reduce the length of the messages or completion.',
    { status: 400 },
  );
}

function structuredText(shape: OutputShape, random: () => number): string {
  if (shape.kind === 'choice') return shape.options[Math.floor(random() * shape.options.length)] ?? '';
  if (shape.kind === 'tool_call')
    return JSON.stringify(jsonFromSchema(shape.tool.parameters ?? { type: 'object' }, random));
  if (shape.kind === 'json' && shape.schema !== undefined)
    return JSON.stringify(jsonFromSchema(shape.schema, random));
  // json_object without a schema: some object.
  return JSON.stringify(
    jsonFromSchema({ type: 'object', properties: { answer: { type: 'string' } } }, random),
  );
}

export function planChoices(request: OutputRequest, limits: PlanLimits): ChoicePlan[] {
  const promptLength = request.promptTokens.length;
  const room = limits.maxModelLen - promptLength;
  const { limit, limitMode, shape } = request;
  if (room < 1 || (limitMode === 'exact' && limit !== undefined && limit > room)) {
    throw contextError(limits, promptLength, limit ?? limits.maxTokensDefault);
  }
  const ceiling = Math.min(limit ?? Infinity, room);
  const base = promptSeed(request.promptTokens, request.seed);

  return Array.from({ length: request.n }, (_, index) => {
    // Choice 0 keeps the prompt's seed, so n = 1 and the first of n choices agree.
    const seed = (base + index * 0x9e3779b9) >>> 0;
    let tokens: string[];
    let finish: FinishReason = shape.kind === 'tool_call' ? 'tool_calls' : 'stop';
    if (shape.kind === 'text') {
      const natural = Math.min(limits.maxTokensDefault, room);
      const count = limitMode === 'exact' ? (limit ?? natural) : Math.min(natural, ceiling);
      tokens = outputTokens(seed, count);
      // Without a limit the simulated model "chooses" to stop; with one, it runs into it.
      if (limit !== undefined && count >= limit) finish = 'length';
    } else {
      tokens = tokenizeText(structuredText(shape, seededRandom(seed)));
      if (tokens.length > ceiling) {
        tokens = tokens.slice(0, ceiling);
        finish = 'length';
      }
    }
    let stopReason: string | null = null;
    if (shape.kind !== 'tool_call') {
      const stopped = applyStop(tokens, request.stop);
      if (stopped.matched !== null) [tokens, stopReason, finish] = [stopped.tokens, stopped.matched, 'stop'];
    }
    return {
      plan: {
        promptTokens: request.promptTokens,
        outputTokens: tokens,
        cacheSalt: request.cacheSalt,
        finishReason: finish === 'length' ? 'length' : 'stop',
      },
      finish,
      stopReason,
      toolName: shape.kind === 'tool_call' ? shape.tool.name : undefined,
      seed,
    };
  });
}
