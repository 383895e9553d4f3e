/** The chat and completions APIs' envelopes, choices, stream deltas and usage, in vLLM's shapes. */
import { randomUUID } from 'node:crypto';
import type { ChoicePlan } from '../generation/output-plan.ts';
import { completionLogprobs, type TokenLogprob, tokenLogprobs } from '../generation/logprobs.ts';
import type { CollectedChoice } from '../generation/run-choices.ts';
import type { GenerationKind, GenerationRequest } from './openai-request.ts';

export interface ResponseIdentity {
  model: string;
  systemFingerprint: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export const simId = (prefix: string): string => `${prefix}${randomUUID().replaceAll('-', '')}`;

export function usageOf(promptTokens: number, completionTokens: number, cachedTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

export function envelope(kind: GenerationKind, stream: boolean, identity: ResponseIdentity) {
  const chat = kind === 'chat';
  return {
    id: simId(chat ? 'chatcmpl-' : 'cmpl-'),
    object: chat ? (stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: identity.model,
    system_fingerprint: identity.systemFingerprint,
  };
}

/** Per-choice state the shapes need: logprobs computed up front, the tool call's id. */
export interface ChoiceState {
  plan: ChoicePlan;
  logprobs: TokenLogprob[] | null;
  toolCallId: string;
  /** Characters emitted so far (the completions API's `text_offset`). */
  emittedChars: number;
}

export function choiceStates(request: GenerationRequest, plans: readonly ChoicePlan[]): ChoiceState[] {
  return plans.map((plan) => ({
    plan,
    logprobs:
      request.topLogprobs === null
        ? null
        : tokenLogprobs(plan.plan.outputTokens, request.topLogprobs, plan.seed),
    toolCallId: simId('chatcmpl-tool-'),
    emittedChars: 0,
  }));
}

function logprobsFor(kind: GenerationKind, state: ChoiceState, from: number, to: number, offset: number) {
  if (state.logprobs === null) return null;
  const entries = state.logprobs.slice(from, to);
  return kind === 'chat' ? { content: entries } : completionLogprobs(entries, offset);
}

/** A finished choice for a non-streamed answer. */
export function finalChoice(
  kind: GenerationKind,
  index: number,
  state: ChoiceState,
  collected: CollectedChoice,
) {
  const { plan } = state;
  const logprobs = logprobsFor(kind, state, 0, collected.tokens, 0);
  const ending = { logprobs, finish_reason: plan.finish, stop_reason: plan.stopReason };
  if (kind === 'completion') return { index, text: collected.text, ...ending };
  const message =
    plan.toolName === undefined
      ? { role: 'assistant', content: collected.text, tool_calls: [] }
      : {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: state.toolCallId,
              type: 'function',
              function: { name: plan.toolName, arguments: collected.text },
            },
          ],
        };
  return { index, message, ...ending };
}

/** The stream choice carrying one token (chat: a content or tool-call delta; completions: text). */
export function tokenChoice(
  kind: GenerationKind,
  index: number,
  state: ChoiceState,
  position: number,
  text: string,
) {
  const offset = state.emittedChars;
  state.emittedChars += text.length;
  const logprobs = logprobsFor(kind, state, position, position + 1, offset);
  if (kind === 'completion') return { index, text, logprobs, finish_reason: null };
  const { toolName } = state.plan;
  const delta =
    toolName === undefined
      ? { content: text }
      : {
          tool_calls: [
            position === 0
              ? {
                  index: 0,
                  id: state.toolCallId,
                  type: 'function',
                  function: { name: toolName, arguments: text },
                }
              : { index: 0, function: { arguments: text } },
          ],
        };
  return { index, delta, logprobs, finish_reason: null };
}

export function roleChoice(index: number) {
  return { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null };
}

export function finishChoice(kind: GenerationKind, index: number, state: ChoiceState) {
  const ending = { logprobs: null, finish_reason: state.plan.finish, stop_reason: state.plan.stopReason };
  return kind === 'chat' ? { index, delta: {}, ...ending } : { index, text: '', ...ending };
}
