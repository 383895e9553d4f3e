/**
 * Answers `/v1/chat/completions` and `/v1/completions` in vLLM's shapes: one JSON body, or an SSE
 * stream with one token per chunk, a finish chunk, an optional usage chunk and `data: [DONE]`.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { GenerationKind, GenerationRequest } from './generation-request.ts';
import { endEventStream, sendEvent, sendJson, startEventStream } from './http-io.ts';
import type { SimEngine } from './sim-engine.ts';

export interface ResponseIdentity {
  model: string;
  systemFingerprint: string;
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

function usageOf(promptTokens: number, completionTokens: number, cachedTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

function envelope(kind: GenerationKind, stream: boolean, identity: ResponseIdentity) {
  const chat = kind === 'chat';
  return {
    id: `${chat ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`,
    object: chat ? (stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: identity.model,
    system_fingerprint: identity.systemFingerprint,
  };
}

function streamChoice(
  kind: GenerationKind,
  delta: { role?: string; content?: string },
  finishReason: string | null,
) {
  const text = kind === 'chat' ? { delta } : { text: delta.content ?? '' };
  return { index: 0, ...text, logprobs: null, finish_reason: finishReason };
}

/** Streams tokens as the engine emits them; a client that leaves aborts `signal` and frees the slot. */
export async function streamGeneration(
  engine: SimEngine,
  request: GenerationRequest,
  identity: ResponseIdentity,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  // Refuse a full queue with a plain 503 while that is still possible; nothing awaits between this
  // check and the generator's first step, so the check holds.
  engine.scheduler.assertCanQueue(request.plan.promptTokens.length);
  const head = envelope(request.kind, true, identity);
  startEventStream(response);
  const tokens = engine.generate(request.plan, signal);
  let completionTokens = 0;
  let cachedTokens = 0;
  for await (const token of tokens) {
    if (completionTokens === 0 && request.kind === 'chat') {
      sendEvent(response, {
        ...head,
        choices: [streamChoice('chat', { role: 'assistant', content: '' }, null)],
      });
    }
    completionTokens++;
    cachedTokens = token.cachedTokens;
    sendEvent(response, { ...head, choices: [streamChoice(request.kind, { content: token.text }, null)] });
  }
  sendEvent(response, { ...head, choices: [streamChoice(request.kind, {}, request.plan.finishReason)] });
  if (request.includeUsage) {
    const usage = usageOf(request.plan.promptTokens.length, completionTokens, cachedTokens);
    sendEvent(response, { ...head, choices: [], usage });
  }
  endEventStream(response);
}

export async function answerGeneration(
  engine: SimEngine,
  request: GenerationRequest,
  identity: ResponseIdentity,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  let text = '';
  let completionTokens = 0;
  let cachedTokens = 0;
  for await (const token of engine.generate(request.plan, signal)) {
    text += token.text;
    completionTokens++;
    cachedTokens = token.cachedTokens;
  }
  const finishReason = request.plan.finishReason;
  const choice =
    request.kind === 'chat'
      ? {
          index: 0,
          message: { role: 'assistant', content: text },
          logprobs: null,
          finish_reason: finishReason,
        }
      : { index: 0, text, logprobs: null, finish_reason: finishReason };
  sendJson(response, 200, {
    ...envelope(request.kind, false, identity),
    choices: [{ ...choice, stop_reason: null }],
    usage: usageOf(request.plan.promptTokens.length, completionTokens, cachedTokens),
  });
}
