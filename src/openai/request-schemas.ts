/**
 * The fields of each OpenAI route that the gateway itself uses, validated with zod. Every
 * schema is loose: fields the gateway does not know (vLLM's `top_k`, `guided_json`,
 * `structured_outputs`, `chat_template_kwargs`, …) are not stripped — and the engine receives
 * the client's original bytes anyway, never a re-serialization.
 */
import { z } from 'zod';

/** Model names are at most this long everywhere in Switchyard (routes, uploads, node reports). */
export const MAX_MODEL_NAME_LENGTH = 256;

const model = z.string().min(1).max(MAX_MODEL_NAME_LENGTH);
const tokenLimit = z.number().int().positive().optional();

/** Routes that take a JSON body and need only `model` to be routed. */
export const ModelRoutedSchema = z.looseObject({ model });

export const ChatCompletionSchema = z.looseObject({
  model,
  messages: z.array(z.looseObject({ role: z.string() })).min(1),
  stream: z.boolean().optional(),
  max_tokens: tokenLimit,
  max_completion_tokens: tokenLimit,
  user: z.string().optional(),
});

/**
 * vLLM's `/v1/chat/completions/batch`: `messages` is a list of conversations, each answered as one
 * choice. Only its presence is checked here; the shape of each conversation is the engine's to judge.
 */
export const ChatBatchSchema = z.looseObject({
  model,
  messages: z.array(z.unknown()).min(1),
  stream: z.boolean().optional(),
  max_tokens: tokenLimit,
  max_completion_tokens: tokenLimit,
  user: z.string().optional(),
});

export const CompletionSchema = z.looseObject({
  model,
  prompt: z.union([
    z.string(),
    z.array(z.string()),
    z.array(z.number().int()),
    z.array(z.array(z.number().int())),
  ]),
  stream: z.boolean().optional(),
  max_tokens: tokenLimit,
  user: z.string().optional(),
});

export const EmbeddingSchema = z
  .looseObject({
    model,
    input: z.unknown().optional(),
    messages: z.array(z.unknown()).optional(),
    user: z.string().optional(),
  })
  .refine((body) => body.input !== undefined || body.messages !== undefined, {
    message: 'Either `input` or `messages` is required.',
    path: ['input'],
  });

/** LMDeploy's stateful chat: the session's KV cache lives on one engine. */
export const InteractiveSchema = z.looseObject({
  model,
  prompt: z.union([z.string(), z.array(z.unknown())]),
  session_id: z.number().int(),
  stream: z.boolean().optional(),
});

export const SpeechSchema = z.looseObject({ model, input: z.string(), stream_format: z.string().optional() });

export type RoutedRequestBody = z.infer<typeof ModelRoutedSchema> & {
  stream?: boolean;
  user?: string;
  session_id?: number;
};
