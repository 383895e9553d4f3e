/**
 * The fields of each OpenAI route that the gateway itself uses, validated with zod. Every
 * schema is loose: fields the gateway does not know (vLLM's `top_k`, `guided_json`,
 * `structured_outputs`, `chat_template_kwargs`, …) are not stripped — and the engine receives
 * the client's original bytes anyway, never a re-serialization.
 */
import * as z from '../zod-mini.ts';

/** Model names are at most this long everywhere in Switchyard (routes, uploads, node reports). */
export const MAX_MODEL_NAME_LENGTH = 256;

const model = z.string().check(z.minLength(1), z.maxLength(MAX_MODEL_NAME_LENGTH));
const tokenLimit = z.optional(z.int().check(z.positive()));
const stream = z.optional(z.boolean());
const user = z.optional(z.string());

/** Routes that take a JSON body and need only `model` to be routed. */
export const ModelRoutedSchema = z.looseObject({ model });

export const ChatCompletionSchema = z.looseObject({
  model,
  messages: z.array(z.looseObject({ role: z.string() })).check(z.minLength(1)),
  stream,
  max_tokens: tokenLimit,
  max_completion_tokens: tokenLimit,
  user,
});

/**
 * vLLM's `/v1/chat/completions/batch`: `messages` is a list of conversations, each answered as one
 * choice. Only its presence is checked here; the shape of each conversation is the engine's to judge.
 */
export const ChatBatchSchema = z.looseObject({
  model,
  messages: z.array(z.unknown()).check(z.minLength(1)),
  stream,
  max_tokens: tokenLimit,
  max_completion_tokens: tokenLimit,
  user,
});

export const CompletionSchema = z.looseObject({
  model,
  prompt: z.union([z.string(), z.array(z.string()), z.array(z.int()), z.array(z.array(z.int()))]),
  stream,
  max_tokens: tokenLimit,
  user,
});

export const EmbeddingSchema = z
  .looseObject({
    model,
    input: z.optional(z.unknown()),
    messages: z.optional(z.array(z.unknown())),
    user,
  })
  .check(
    z.refine((body) => body.input !== undefined || body.messages !== undefined, {
      message: 'Either `input` or `messages` is required.',
      path: ['input'],
    }),
  );

/** LMDeploy's stateful chat: the session's KV cache lives on one engine. */
export const InteractiveSchema = z.looseObject({
  model,
  prompt: z.union([z.string(), z.array(z.unknown())]),
  session_id: z.int(),
  stream,
});

export const SpeechSchema = z.looseObject({
  model,
  input: z.string(),
  stream_format: z.optional(z.string()),
});

export type RoutedRequestBody = z.infer<typeof ModelRoutedSchema> & {
  stream?: boolean;
  user?: string;
  session_id?: number;
};
