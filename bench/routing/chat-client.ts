/**
 * One streamed chat turn as a user sees it: time to the first token, the answer, the tokens.
 * A 429 or 503 with `retry-after` is waited out and retried, and that wait counts in the time
 * to first token, because the user waited it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatMessage } from './conversations.ts';

export interface Endpoint {
  url: string;
  apiKey: string;
}

export type TurnResult =
  | { ok: true; ttftMs: number; text: string; completionTokens: number; engine: string; refusals: number }
  | { ok: false; status: number; detail: string };

export async function chatTurn(
  endpoint: Endpoint,
  body: { model: string; messages: ChatMessage[]; max_tokens: number },
  signal: AbortSignal,
): Promise<TurnResult> {
  const started = performance.now();
  let refusals = 0;
  for (;;) {
    const response = await fetch(`${endpoint.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${endpoint.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal,
    });
    if (response.status === 429 || response.status === 503) {
      refusals++;
      await response.arrayBuffer();
      await sleep(Number(response.headers.get('retry-after') ?? 1) * 1000, undefined, { signal });
      continue;
    }
    if (response.status !== 200 || !response.body) {
      return { ok: false, status: response.status, detail: (await response.text()).slice(0, 300) };
    }
    const streamed = await readStream(response.body, started);
    const engine = response.headers.get('x-switchyard-engine') ?? '?';
    if (streamed.ttftMs === null) return { ok: false, status: 200, detail: 'the stream carried no token' };
    return { ok: true, ...streamed, ttftMs: streamed.ttftMs, engine, refusals };
  }
}

async function readStream(body: ReadableStream<Uint8Array>, started: number) {
  const decoder = new TextDecoder();
  let buffered = '';
  let ttftMs: number | null = null;
  let text = '';
  let completionTokens = 0;
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    const events = buffered.split('\n\n');
    buffered = events.pop() ?? '';
    for (const event of events) {
      const data = event.startsWith('data: ') ? event.slice(6) : '';
      if (data === '' || data === '[DONE]') continue;
      const parsed = JSON.parse(data) as {
        choices?: Array<{ delta?: { content?: string } }>;
        usage?: { completion_tokens: number };
        error?: { message: string };
      };
      if (parsed.error) throw new Error(`stream error: ${parsed.error.message}`);
      const content = parsed.choices?.[0]?.delta?.content;
      if (content) {
        ttftMs ??= performance.now() - started;
        text += content;
      }
      if (parsed.usage) completionTokens = parsed.usage.completion_tokens;
    }
  }
  return { ttftMs, text, completionTokens };
}
