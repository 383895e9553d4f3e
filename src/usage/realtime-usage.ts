/**
 * Token usage in a realtime session's server events (vLLM's `transcription.done` carries
 * `usage {prompt_tokens, completion_tokens, total_tokens}` for each utterance), summed over the
 * session, since a WebSocket is one call however many turns it holds.
 */
import { isRecord, normalizeUsage, type Usage } from './usage.ts';

export class RealtimeUsage {
  private total: Usage | null = null;

  /** Takes one server message (text); anything that is not an event with usage is ignored. */
  observe(message: string): void {
    if (!message.includes('"usage"')) return;
    let event: unknown;
    try {
      event = JSON.parse(message);
    } catch {
      return;
    }
    const usage = isRecord(event) ? normalizeUsage(event.usage) : null;
    if (!usage) return;
    const total = this.total ?? { promptTokens: 0, completionTokens: 0, cachedTokens: 0 };
    this.total = {
      promptTokens: total.promptTokens + usage.promptTokens,
      completionTokens: total.completionTokens + usage.completionTokens,
      cachedTokens: total.cachedTokens + usage.cachedTokens,
    };
  }

  /** The session's usage so far; null when no event reported any. */
  usage(): Usage | null {
    return this.total;
  }
}
