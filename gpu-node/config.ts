/**
 * The agent's configuration file: read once at start-up, validated whole, and every problem
 * reported at once with its path (`engines[1].port: expected a number, got "80a"`), so an owner
 * fixes the file in one pass instead of one error per restart.
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ENGINE_KINDS, EngineReportSchema, type EngineKind } from '../src/protocol/node-api.ts';
import type { EngineConfig } from './engines/engine-adapter.ts';
import { DEFAULT_SUPERVISOR_TIMINGS } from './supervisor.ts';

/** Why the configuration could not be used; `problems` holds one line per problem. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(message: string, options: { problems?: string[]; cause?: unknown } = {}) {
    const problems = options.problems ?? [];
    super([message, ...problems.map((problem) => `  ${problem}`)].join('\n'), { cause: options.cause });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** How each engine's health is checked, and when a sick engine counts as hung (docs/gpu-node.md). */
export interface EngineHealthConfig {
  intervalMs: number;
  /** A check not answered within this counts as failed. */
  timeoutMs: number;
  /** Failed checks in a row after which the engine takes no new requests (state `unhealthy`). */
  unhealthyAfterFailures: number;
  /**
   * An unhealthy engine none of whose in-flight requests got a byte from it for this long is hung:
   * those requests are ended with an error the gateway retries elsewhere. Both conditions, because
   * a non-streamed generation is silent until it ends and a busy engine's check may time out.
   */
  hungAfterSilentMs: number;
}

export const DEFAULT_HUNG_AFTER_SILENT_MS = 30_000;

export interface AgentConfig {
  gateway: { url: string; nodeToken: string };
  node: { name: string; listen: { host: string; port: number }; publicUrl: string };
  /** Caps the interval the gateway hands out at registration: only a shorter one takes effect. */
  heartbeatIntervalMs?: number;
  drainTimeoutMs: number;
  engineHealth: EngineHealthConfig;
  /** Absolute; a relative path in the file is taken from the file's own directory. */
  logDir: string;
  /** Absolute, like logDir: where the agent keeps its current registration for `gpu-node status`. */
  stateFile: string;
  engines: EngineConfig[];
}

/**
 * Requests an engine runs at once when the file does not say: vLLM's default `max_num_seqs` and
 * LMDeploy's default batch on large GPUs are 256, SGLang sizes its own near that; llama.cpp
 * splits its context across `-np` slots, so few slots keep each one useful; an external
 * server is unknown, so a middling guess; the simulator is kept small so demos show queueing.
 */
export const DEFAULT_MAX_CONCURRENCY: Record<EngineKind, number> = {
  vllm: 256,
  sglang: 256,
  lmdeploy: 256,
  llamacpp: 4,
  external: 64,
  sim: 16,
};

const Port = z.number().int().min(1).max(65535);
const HttpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

const EngineSchema = z.strictObject({
  id: z.optional(EngineReportSchema.shape.id),
  kind: z.enum(ENGINE_KINDS),
  model: z.string().min(1),
  servedModelName: z.string().min(1).max(256).optional(),
  port: Port,
  url: HttpUrl.optional(),
  gpus: z.array(z.number().int().nonnegative()).default([]),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  maxConcurrency: z.number().int().positive().optional(),
  command: z.string().min(1).optional(),
  /** External engines only: the environment variable holding that server's own API key. */
  apiKeyEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
    .optional(),
});

const AgentConfigFileSchema = z.strictObject({
  gateway: z.strictObject({
    url: HttpUrl,
    nodeToken: z.string().min(1).optional(),
    nodeTokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
      .optional(),
  }),
  node: z.strictObject({
    name: z.string().min(1).max(128),
    listen: z
      .strictObject({ host: z.string().min(1).default('0.0.0.0'), port: Port.default(8100) })
      .prefault({}),
    publicUrl: HttpUrl,
  }),
  heartbeatIntervalMs: z.number().int().positive().optional(),
  drainTimeoutMs: z.number().int().nonnegative().default(60_000),
  engineHealth: z
    .strictObject({
      intervalMs: z.number().int().positive().default(DEFAULT_SUPERVISOR_TIMINGS.healthIntervalMs),
      timeoutMs: z.number().int().positive().default(DEFAULT_SUPERVISOR_TIMINGS.probeTimeoutMs),
      unhealthyAfterFailures: z
        .number()
        .int()
        .positive()
        .default(DEFAULT_SUPERVISOR_TIMINGS.unhealthyAfterFailures),
      hungAfterSilentMs: z.number().int().positive().default(DEFAULT_HUNG_AFTER_SILENT_MS),
    })
    .prefault({}),
  logDir: z.string().min(1).default('./gpu-node-logs'),
  stateFile: z.string().min(1).default('./gpu-node.state.json'),
  engines: z.array(EngineSchema).min(1, 'list at least one engine'),
});
type AgentConfigFile = z.output<typeof AgentConfigFileSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((key, index) =>
      typeof key === 'number' ? `[${key}]` : index === 0 ? String(key) : `.${String(key)}`,
    )
    .join('');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'invalid_type') return issue.message;
  if (issue.input === undefined) return 'required';
  const article = /^[aeiou]/.test(issue.expected) ? 'an' : 'a';
  const got = JSON.stringify(issue.input);
  return `expected ${article} ${issue.expected}, got ${got.length > 40 ? `${got.slice(0, 37)}...` : got}`;
}

/** Engine ids must fit the protocol's id pattern; served names often hold a `/`. */
function idFromName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
}

function resolveEngines(
  engines: AgentConfigFile['engines'],
  listenPort: number,
  env: NodeJS.ProcessEnv,
  problems: string[],
): EngineConfig[] {
  const idOwners = new Map<string, number>();
  const portOwners = new Map<number, number>();
  return engines.map(({ id, servedModelName, maxConcurrency, apiKeyEnv, ...engine }, index) => {
    const at = `engines[${index}]`;
    const name = servedModelName ?? engine.model;
    const resolved: EngineConfig = {
      ...engine,
      id: id ?? idFromName(name),
      servedModelName: name,
      maxConcurrency: maxConcurrency ?? DEFAULT_MAX_CONCURRENCY[engine.kind],
    };
    if (apiKeyEnv !== undefined) {
      if (engine.kind !== 'external') {
        problems.push(
          `${at}.apiKeyEnv: only an external engine has a key of its own; launched engines get a fresh one`,
        );
      } else if (!env[apiKeyEnv]) {
        problems.push(`${at}.apiKeyEnv: environment variable ${apiKeyEnv} is not set`);
      } else {
        resolved.apiKey = env[apiKeyEnv];
      }
    }
    if (engine.url !== undefined && engine.kind !== 'external') {
      problems.push(`${at}.url: only an external engine has a url; this one is launched on 127.0.0.1:port`);
    }
    const idOwner = idOwners.get(resolved.id);
    if (idOwner !== undefined) {
      problems.push(
        `${at}.id: "${resolved.id}" is also engines[${idOwner}]'s id; give each engine its own id`,
      );
    }
    idOwners.set(resolved.id, idOwner ?? index);
    // An external engine with a url does not listen on this machine's port.
    if (engine.kind !== 'external' || engine.url === undefined) {
      const portOwner = portOwners.get(engine.port);
      if (portOwner !== undefined) {
        problems.push(`${at}.port: ${engine.port} is also engines[${portOwner}]'s port`);
      }
      portOwners.set(engine.port, portOwner ?? index);
      if (engine.port === listenPort) {
        problems.push(`${at}.port: ${engine.port} is the agent's own node.listen.port`);
      }
    }
    return resolved;
  });
}

function resolveNodeToken(
  gateway: AgentConfigFile['gateway'],
  env: NodeJS.ProcessEnv,
  problems: string[],
): string {
  const { nodeToken, nodeTokenEnv } = gateway;
  if (nodeToken !== undefined && nodeTokenEnv !== undefined) {
    problems.push('gateway: set nodeToken or nodeTokenEnv, not both');
    return '';
  }
  if (nodeTokenEnv !== undefined) {
    const fromEnv = env[nodeTokenEnv];
    if (!fromEnv) problems.push(`gateway.nodeTokenEnv: environment variable ${nodeTokenEnv} is not set`);
    return fromEnv ?? '';
  }
  if (nodeToken === undefined) {
    problems.push('gateway.nodeToken: required (or nodeTokenEnv: NAME to read it from the environment)');
  }
  return nodeToken ?? '';
}

export interface ParseConfigOptions {
  /** Where nodeTokenEnv is looked up; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** What a relative logDir or stateFile is relative to; defaults to the working directory. */
  baseDir?: string;
  /** Names the source in the error message. */
  source?: string;
}

/** Validates an already parsed configuration object; throws ConfigError listing every problem. */
export function parseAgentConfig(raw: unknown, options: ParseConfigOptions = {}): AgentConfig {
  const source = options.source ?? 'configuration';
  const parsed = AgentConfigFileSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${describeIssue(issue)}`);
    throw new ConfigError(`${source} is invalid:`, { problems, cause: parsed.error });
  }
  const file = parsed.data;
  const problems: string[] = [];
  const nodeToken = resolveNodeToken(file.gateway, options.env ?? process.env, problems);
  const engines = resolveEngines(file.engines, file.node.listen.port, options.env ?? process.env, problems);
  if (problems.length > 0) throw new ConfigError(`${source} is invalid:`, { problems });
  return {
    gateway: { url: file.gateway.url, nodeToken },
    node: file.node,
    ...(file.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: file.heartbeatIntervalMs }),
    drainTimeoutMs: file.drainTimeoutMs,
    engineHealth: file.engineHealth,
    logDir: resolve(options.baseDir ?? process.cwd(), file.logDir),
    stateFile: resolve(options.baseDir ?? process.cwd(), file.stateFile),
    engines,
  };
}

/** Reads a YAML or JSON file (`.json` is parsed as JSON, anything else as YAML, a superset). */
export async function loadAgentConfig(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}`, { cause: error });
  }
  let raw: unknown;
  try {
    raw = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`cannot parse config file ${path}: ${reason}`, { cause: error });
  }
  return parseAgentConfig(raw, { env, baseDir: dirname(resolve(path)), source: `config file ${path}` });
}

/**
 * Every field, commented: written by `gpu-node init --example` for owners who write their own
 * (`gpu-node init --gateway URL --engine KIND=MODEL` writes a ready one). Its placeholders do not
 * pass `gpu-node check`, on purpose.
 */
export const exampleConfig = `# Switchyard GPU node agent configuration (YAML; JSON works too).

gateway:
  # The gateway's base URL.
  url: https://switchyard.example.com
  # The node token (snt-…) the gateway operator made with POST /admin/api/node-tokens.
  # Either put it here...
  nodeToken: snt-replace-me
  # ...or read it from the environment, which suits systemd's EnvironmentFile (remove nodeToken):
  # nodeTokenEnv: SWITCHYARD_NODE_TOKEN

node:
  name: gpu-box-1
  # Where the agent's proxy listens; the engines themselves only ever bind 127.0.0.1.
  listen:
    host: 0.0.0.0
    port: 8100
  # The URL the gateway uses to reach this agent (required).
  publicUrl: https://gpu-box-1.example.com:8100

# heartbeatIntervalMs: 2000   # only a value shorter than the gateway's takes effect
drainTimeoutMs: 60000         # on SIGTERM, how long in-flight requests may finish
# engineHealth:                 # how each engine's health is checked (defaults shown)
#   intervalMs: 2000            # between checks of a ready engine
#   timeoutMs: 5000             # a check unanswered this long failed
#   unhealthyAfterFailures: 3   # failed checks in a row: the engine takes no new requests
#   hungAfterSilentMs: 30000    # unhealthy, and no byte from it on any in-flight request for
#                               # this long: hung; those requests end with an error the gateway
#                               # retries elsewhere (a long generation that progresses is never cut)
logDir: ./gpu-node-logs       # engine logs; relative to this file
# stateFile: ./gpu-node.state.json   # the current registration, for \`gpu-node status\` (owner-only)

engines:
  # One entry per engine process. Common fields:
  #   kind            vllm | sglang | lmdeploy | llamacpp | external | sim
  #   model           weights path or hub id (a .gguf file for llamacpp)
  #   servedModelName the name clients put in "model" (default: model)
  #   id              unique on this node (default: servedModelName with "/" and such made "-")
  #   port            loopback port the engine listens on; unique
  #   gpus            GPU indexes, become CUDA_VISIBLE_DEVICES (default: all GPUs visible)
  #   args            extra engine flags, appended to the launch command
  #   env             extra environment variables
  #   maxConcurrency  requests the engine runs at once (default: 256 for vllm/sglang/lmdeploy,
  #                   4 for llamacpp where it also sets -np, 64 for external, 16 for sim)
  #   command         the executable to run instead of the default: a venv's vllm or
  #                   llama-server; for sglang and lmdeploy, the python3 that has them
  - kind: vllm
    model: Qwen/Qwen2.5-7B-Instruct
    port: 8001
    gpus: [0]
    args: [--gpu-memory-utilization, "0.90"]

  # - kind: sglang
  #   model: meta-llama/Llama-3.1-8B-Instruct
  #   port: 8002
  #   gpus: [1]
  #   command: /opt/sglang/.venv/bin/python3

  # - kind: lmdeploy
  #   model: internlm/internlm2_5-7b-chat
  #   port: 8003
  #   gpus: [2]

  # - kind: llamacpp
  #   model: /models/qwen2.5-7b-instruct-q4_k_m.gguf
  #   servedModelName: qwen2.5-7b-q4
  #   port: 8004
  #   maxConcurrency: 4

  # An engine started by something else, already listening:
  # - kind: external
  #   model: llama3.1:8b
  #   port: 11434
  #   url: http://127.0.0.1:11434

  # The engine simulator: a labelled test and demo tool, not an engine.
  # - kind: sim
  #   model: sim-model
  #   port: 8009
`;
