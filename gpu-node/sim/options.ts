/**
 * The simulator's options: one zod schema (defaults calibrated to a plausible Llama-3.1-8B in bf16
 * on one H100/A100-class GPU — see docs/simulator.md for where the numbers come from) and the
 * command-line flags derived from it, so `gpu-node sim` and `gpu-node/sim/main.ts` accept the same
 * kebab-case flags (`--served-model-name` → `servedModelName`).
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { z } from 'zod';
import { SimError } from './sim-error.ts';

const count = z.coerce.number().int().nonnegative();
const positive = z.coerce.number().positive();

export const simOptionsSchema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: count.max(65535).default(8000),
  servedModelName: z.string().min(1),
  apiKey: z.string().min(1).optional(),
  engineId: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .default(() => randomBytes(4).toString('hex')),
  task: z.enum(['generate', 'embed']).default('generate'),
  maxModelLen: count.min(1).default(131072),
  prefillTokensPerS: positive.default(10000),
  decodeMsPerToken: z.coerce.number().nonnegative().default(10),
  decodeMsPerTokenPerExtraSeq: z.coerce.number().nonnegative().default(0.2),
  maxBatch: count.min(1).default(256),
  maxWaiting: count.default(1024),
  kvCacheTokens: count.min(1).default(400000),
  prefixCacheTokens: count.default(400000),
  blockSize: count.min(1).default(16),
  maxTokensDefault: count.min(1).default(64),
  embeddingDim: count.min(1).max(65536).default(384),
  crashAfter: count.min(1).optional(),
  stallAfter: count.optional(),
  healthFailAfter: count.optional(),
  failRate: z.coerce.number().min(0).max(1).default(0),
  seed: z.coerce.number().int().default(0),
  timeScale: z.coerce.number().nonnegative().default(1),
});

export type SimOptions = z.output<typeof simOptionsSchema>;

interface FlagHelp {
  value: string;
  description: string;
  /** Shown instead of the schema default when that default is computed. */
  defaultLabel?: string;
}

const FLAG_HELP: Record<keyof SimOptions, FlagHelp> = {
  host: { value: '<address>', description: 'address to listen on' },
  port: { value: '<port>', description: 'port to listen on (0 picks a free one)' },
  servedModelName: { value: '<name>', description: 'the model name clients send in `model`' },
  apiKey: { value: '<key>', description: 'require `Authorization: Bearer <key>` on every route but /health' },
  engineId: {
    value: '<id>',
    description: 'shown in system_fingerprint and the x-sim-engine-id header',
    defaultLabel: 'random',
  },
  task: {
    value: '<generate|embed>',
    description:
      'generate: chat, completions, responses, messages, interactive, audio, images, realtime; ' +
      'embed: embeddings, rerank, score, classify, pooling, moderations',
  },
  maxModelLen: { value: '<tokens>', description: 'context length; longer prompt + max_tokens answer 400' },
  prefillTokensPerS: { value: '<rate>', description: 'prompt tokens prefilled per second' },
  decodeMsPerToken: { value: '<ms>', description: 'time per output token with one running sequence' },
  decodeMsPerTokenPerExtraSeq: {
    value: '<ms>',
    description: 'added per token for each other running sequence',
  },
  maxBatch: { value: '<n>', description: 'batch slots: requests running at once' },
  maxWaiting: { value: '<n>', description: 'queued requests beyond which new ones get 503' },
  kvCacheTokens: { value: '<tokens>', description: 'KV cache capacity behind vllm:kv_cache_usage_perc' },
  prefixCacheTokens: {
    value: '<tokens>',
    description: 'token budget of the LRU prefix cache (0 disables it)',
  },
  blockSize: { value: '<tokens>', description: 'tokens per prefix-cache block' },
  maxTokensDefault: { value: '<tokens>', description: 'output length when a request sets no max_tokens' },
  embeddingDim: { value: '<n>', description: 'dimension of embedding vectors' },
  crashAfter: {
    value: '<n>',
    description: 'exit with code 1 after n completed requests',
    defaultLabel: 'never',
  },
  stallAfter: {
    value: '<n>',
    description: 'after n requests, accept connections but never answer',
    defaultLabel: 'never',
  },
  healthFailAfter: {
    value: '<n>',
    description: 'after n requests, /health answers 503 while generation goes on',
    defaultLabel: 'never',
  },
  failRate: { value: '<0..1>', description: 'share of requests answered 500 (seeded, deterministic)' },
  seed: { value: '<n>', description: 'seed of the fail-rate draws' },
  timeScale: { value: '<factor>', description: 'multiplies every simulated delay (tests use small values)' },
};

export interface SimFlag {
  /** The option key (camelCase), as commander names it. */
  key: keyof SimOptions;
  /** Kebab-case flag, e.g. `--served-model-name`. */
  flag: string;
  /** Placeholder for the flag's value, e.g. `<name>`. */
  value: string;
  description: string;
  /** Human-readable default ('none' for optional flags without one). */
  default: string;
  required: boolean;
}

function toKebabFlag(key: string): string {
  return `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** Every flag the simulator takes, for `gpu-node sim` and main.ts to register with commander. */
export function simCommandLineFlags(): SimFlag[] {
  return (Object.keys(FLAG_HELP) as Array<keyof SimOptions>).map((key) => {
    const help = FLAG_HELP[key];
    const whenOmitted = simOptionsSchema.shape[key].safeParse(undefined);
    const schemaDefault =
      whenOmitted.success && whenOmitted.data !== undefined ? String(whenOmitted.data) : 'none';
    return {
      key,
      flag: toKebabFlag(key),
      value: help.value,
      description: help.description,
      default: help.defaultLabel ?? schemaDefault,
      required: !whenOmitted.success,
    };
  });
}

/** Validates options (numbers may arrive as strings from argv); throws a SimError naming the bad flags. */
export function parseSimOptions(input: Record<string, unknown>): SimOptions {
  const parsed = simOptionsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (issue) => `  ${toKebabFlag(String(issue.path[0] ?? ''))}: ${issue.message}`,
  );
  throw new SimError(`invalid simulator options:\n${problems.join('\n')}`, { cause: parsed.error });
}

/** Registers every simulator flag on a commander command (values stay strings; parseSimOptions coerces). */
export function addSimFlags(command: Command): Command {
  for (const flag of simCommandLineFlags()) {
    const shownDefault = flag.required ? 'required' : `default: ${flag.default}`;
    command.option(`${flag.flag} ${flag.value}`, `${flag.description} (${shownDefault})`);
  }
  return command;
}
