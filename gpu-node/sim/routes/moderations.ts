/**
 * `/v1/moderations` in OpenAI's shape. Scores are small and seeded by the text, except that a few
 * plainly violent or hateful words score high, so `flagged` can be seen to work; a classifier is a
 * pooling model, so the request holds a batch slot for its prefill.
 */
import { z } from 'zod';
import { sendJson, validateBody } from '../http-io.ts';
import type { RouteCall, SimContext } from '../sim-context.ts';
import { unknownModel } from '../sim-error.ts';
import { seededRandom, seedOf } from '../text-model.ts';
import { simId } from './chat-shapes.ts';
import { countTokens } from './embeddings.ts';

const CATEGORIES = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/intent',
  'self-harm/instructions',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
] as const;

const TRIGGERS: Record<string, Array<(typeof CATEGORIES)[number]>> = {
  kill: ['violence', 'harassment/threatening'],
  murder: ['violence'],
  hate: ['hate', 'harassment'],
};

const FLAG_THRESHOLD = 0.5;

const moderationRequest = z.looseObject({
  model: z.string().nullish(),
  input: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.looseObject({ type: z.string(), text: z.string().optional() })).min(1),
  ]),
});

function inputTexts(input: z.infer<typeof moderationRequest>['input']): string[] {
  if (typeof input === 'string') return [input];
  return input.map((item) => (typeof item === 'string' ? item : (item.text ?? `<${item.type}>`)));
}

function moderate(text: string) {
  const random = seededRandom(seedOf(text));
  const scores = Object.fromEntries(
    CATEGORIES.map((category) => [category, Math.round(random() * 0.02 * 1e6) / 1e6]),
  );
  for (const word of text.toLowerCase().match(/\p{L}+/gu) ?? []) {
    for (const category of TRIGGERS[word] ?? []) scores[category] = 0.9;
  }
  const categories = Object.fromEntries(
    CATEGORIES.map((category) => [category, (scores[category] ?? 0) >= FLAG_THRESHOLD]),
  );
  const appliedTypes = Object.fromEntries(CATEGORIES.map((category) => [category, ['text']]));
  return {
    flagged: Object.values(categories).some(Boolean),
    categories,
    category_scores: scores,
    category_applied_input_types: appliedTypes,
  };
}

export async function answerModerations(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(moderationRequest, call.body);
  const model = request.model ?? context.options.servedModelName;
  if (model !== context.options.servedModelName) throw unknownModel(model);
  const texts = inputTexts(request.input);
  await context.engine.embed(countTokens(texts), call.signal);
  sendJson(call.response, 200, { id: simId('modr-'), model, results: texts.map(moderate) });
}
