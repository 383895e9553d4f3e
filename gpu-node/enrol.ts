/**
 * `gpu-node init --gateway URL --engine KIND=MODEL`: one step from a node token to a working
 * configuration. It looks for the engines on PATH (and for the Python that has SGLang or
 * LMDeploy) and for the GPUs, and writes what it found as absolute paths, so the agent later
 * runs the same binaries under systemd's shorter PATH.
 */
import { hostname, networkInterfaces } from 'node:os';
import { stringify } from 'yaml';
import type { EngineKind, GpuStat } from '../src/protocol/node-api.ts';
import { findExecutable } from './check.ts';
import { adapterFor } from './engines/index.ts';
import { readGpuStats } from './gpu-stats.ts';
import { bindProblem } from './processes/ports.ts';
import { pythonCanImport, scriptInterpreter } from './python-probe.ts';
import { AGENT_VERSION } from './version.ts';

/** The kinds `init` can set up; `external` needs a URL and is written by hand. */
export const ENROLLABLE_KINDS = ['vllm', 'sglang', 'lmdeploy', 'llamacpp', 'sim'] as const;
export type EnrollableKind = (typeof ENROLLABLE_KINDS)[number];

/** The console scripts SGLang and LMDeploy install, whose first line names their Python. */
const PYTHON_ENGINE_SCRIPTS: Partial<Record<EngineKind, string>> = { sglang: 'sglang', lmdeploy: 'lmdeploy' };

const FIRST_ENGINE_PORT = 8001;

export interface EngineRequest {
  kind: EnrollableKind;
  model: string;
}

export interface Machine {
  /** The executable each launched kind would run here, or null when there is none. */
  engines: Record<Exclude<EnrollableKind, 'sim'>, string | null>;
  gpus: GpuStat[];
}

export async function detectMachine(
  path = process.env.PATH ?? '',
  nvidiaSmi = 'nvidia-smi',
): Promise<Machine> {
  const [vllm, sglang, lmdeploy, llamacpp, gpus] = await Promise.all([
    findExecutable('vllm', path),
    findPython('sglang', path),
    findPython('lmdeploy', path),
    findExecutable('llama-server', path),
    findExecutable(nvidiaSmi, path).then((smi) => (smi ? readGpuStats({ command: smi }) : [])),
  ]);
  return { engines: { vllm, sglang, lmdeploy, llamacpp }, gpus };
}

/** The Python that can import the engine: its console script's interpreter first, then python3. */
async function findPython(kind: 'sglang' | 'lmdeploy', path: string): Promise<string | null> {
  const module = adapterFor(kind).pythonModule!;
  const script = await findExecutable(PYTHON_ENGINE_SCRIPTS[kind]!, path);
  const candidates = [script && (await scriptInterpreter(script)), await findExecutable('python3', path)];
  for (const python of candidates) if (python && (await pythonCanImport(python, module))) return python;
  return null;
}

/** `vllm=Qwen/Qwen2.5-7B-Instruct` → { kind, model }; throws a message naming what is wrong. */
export function parseEngineRequest(value: string): EngineRequest {
  const at = value.indexOf('=');
  const kind = value.slice(0, at);
  const model = value.slice(at + 1);
  if (at < 0 || !model || !(ENROLLABLE_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`expected KIND=MODEL with KIND one of ${ENROLLABLE_KINDS.join(', ')}, got "${value}"`);
  }
  return { kind: kind as EnrollableKind, model };
}

/** The first non-loopback IPv4 address: how a gateway on the same network would reach this machine. */
export function guessPublicHost(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? [])
      if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return hostname();
}

/** `count` loopback ports from 8001 up that are free now and are not `avoid`. */
async function freeEnginePorts(count: number, avoid: number): Promise<number[]> {
  const ports: number[] = [];
  for (let port = FIRST_ENGINE_PORT; ports.length < count && port < 65536; port++) {
    if (port !== avoid && (await bindProblem('127.0.0.1', port)) === null) ports.push(port);
  }
  return ports;
}

export interface EnrolmentInput {
  gatewayUrl: string;
  nodeToken: string;
  name: string;
  listen: { host: string; port: number };
  publicUrl: string;
  engines: EngineRequest[];
  machine: Machine;
}

/** The configuration file `init` writes: YAML, with what was detected in its header. */
export async function enrolmentConfig(input: EnrolmentInput): Promise<string> {
  const ports = await freeEnginePorts(input.engines.length, input.listen.port);
  const engines = input.engines.map(({ kind, model }, index) => {
    const command = kind === 'sim' ? null : input.machine.engines[kind];
    return { kind, model, port: ports[index], ...(command ? { command } : {}) };
  });
  const document = {
    gateway: { url: input.gatewayUrl, nodeToken: input.nodeToken },
    node: { name: input.name, listen: input.listen, publicUrl: input.publicUrl },
    logDir: './gpu-node-logs',
    engines,
  };
  const gpus = input.machine.gpus.map((gpu) => `${gpu.index} ${gpu.name}`).join('; ') || 'none found';
  return [
    `# Written by \`gpu-node init\` (agent ${AGENT_VERSION}). Every field: \`gpu-node init --example\`.`,
    "# It holds the node token: keep it readable by the agent's user only.",
    `# GPUs: ${gpus}. Without \`gpus\`, an engine sees all of them; pin one with e.g. \`gpus: [0]\`.`,
    stringify(document),
  ].join('\n');
}

/** One line per engine kind: found where, or not. */
export function describeMachine(machine: Machine): string[] {
  const lines = Object.entries(machine.engines).map(([kind, command]) => {
    if (command) return `found ${kind}: ${command}`;
    const module = adapterFor(kind as EngineKind).pythonModule;
    return module
      ? `no ${kind}: no python3 on PATH can import ${module}`
      : `no ${kind}: ${adapterFor(kind as EngineKind).binary} is not on PATH`;
  });
  const gpus = machine.gpus.map((gpu) => `${gpu.index} ${gpu.name}`).join('; ');
  lines.push(gpus ? `GPUs: ${gpus}` : 'GPUs: none found (nvidia-smi absent or reporting none)');
  return lines;
}
