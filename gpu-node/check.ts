/**
 * `gpu-node check`: what can be known before starting, each finding one line the CLI prints.
 * Errors would stop the agent (a missing engine binary, a taken port, a GPU that is not there);
 * warnings are worth knowing but not fatal (no nvidia-smi on a CPU-only demo box).
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import type { AgentConfig } from './config.ts';
import type { EngineConfig } from './engines/engine-adapter.ts';
import { adapterFor, engineBaseUrl } from './engines/index.ts';
import { ENGINE_HOST } from './engines/launch.ts';
import { SIM_MAIN_PATH } from './engines/sim.ts';
import { readGpuStats } from './gpu-stats.ts';

export interface CheckLine {
  level: 'ok' | 'warn' | 'error';
  message: string;
}

export interface CheckReport {
  ok: boolean;
  lines: CheckLine[];
}

export interface CheckOptions {
  /** Where executables are searched; defaults to process.env.PATH. */
  path?: string;
  /** The nvidia-smi to look for and run. */
  nvidiaSmi?: string;
}

async function canAccess(file: string, mode: number): Promise<boolean> {
  try {
    await access(file, mode);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path `command` runs as: itself when it names a path, else the first match on PATH. */
export async function findExecutable(command: string, path = process.env.PATH ?? ''): Promise<string | null> {
  if (command.includes('/')) return (await canAccess(command, constants.X_OK)) ? command : null;
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    if (await canAccess(candidate, constants.X_OK)) return candidate;
  }
  return null;
}

/** Null when host:port can be bound, else why not. */
function portProblem(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(null)));
  });
}

async function checkEngineBinary(engine: EngineConfig, path: string): Promise<CheckLine> {
  const adapter = adapterFor(engine.kind);
  const command = engine.command ?? adapter.binary;
  if (command === null) {
    return {
      level: 'ok',
      message: `engine ${engine.id}: external, not launched; expected at ${engineBaseUrl(engine)}`,
    };
  }
  const found = await findExecutable(command, path);
  if (!found) {
    const where = command.includes('/') ? 'is not an executable file' : 'is not on PATH';
    return { level: 'error', message: `engine ${engine.id}: ${command} ${where}` };
  }
  if (engine.kind === 'sim' && !(await canAccess(SIM_MAIN_PATH, constants.R_OK))) {
    return { level: 'error', message: `engine ${engine.id}: simulator ${SIM_MAIN_PATH} is missing` };
  }
  return { level: 'ok', message: `engine ${engine.id}: ${engine.kind} runs ${found}` };
}

async function checkPorts(config: AgentConfig): Promise<CheckLine[]> {
  const wanted = [
    { host: config.node.listen.host, port: config.node.listen.port, owner: 'the agent (node.listen.port)' },
    ...config.engines
      .filter((engine) => engine.kind !== 'external')
      .map((engine) => ({ host: ENGINE_HOST, port: engine.port, owner: `engine ${engine.id}` })),
  ];
  const lines: CheckLine[] = [];
  for (const { host, port, owner } of wanted) {
    const problem = await portProblem(host, port);
    lines.push(
      problem === null
        ? { level: 'ok', message: `port ${port} for ${owner} is free` }
        : { level: 'error', message: `port ${port} for ${owner} cannot be bound (${problem})` },
    );
  }
  return lines;
}

async function checkGpus(config: AgentConfig, nvidiaSmi: string, path: string): Promise<CheckLine[]> {
  const pinned = config.engines.filter((engine) => engine.gpus.length > 0);
  const smi = await findExecutable(nvidiaSmi, path);
  if (!smi) {
    const lines: CheckLine[] = [
      { level: 'warn', message: `${nvidiaSmi} not found: no GPU figures in heartbeats` },
    ];
    for (const engine of pinned) {
      lines.push({
        level: 'warn',
        message: `engine ${engine.id}: cannot verify GPUs ${engine.gpus.join(', ')}`,
      });
    }
    return lines;
  }
  const gpus = await readGpuStats({ command: smi });
  if (gpus.length === 0) return [{ level: 'warn', message: `${smi} is present but reported no GPUs` }];
  const indexes = new Set(gpus.map((gpu) => gpu.index));
  const lines: CheckLine[] = [
    {
      level: 'ok',
      message: `${gpus.length} GPU(s): ${gpus.map((gpu) => `${gpu.index} ${gpu.name}`).join('; ')}`,
    },
  ];
  for (const engine of pinned) {
    const missing = engine.gpus.filter((index) => !indexes.has(index));
    if (missing.length > 0) {
      lines.push({ level: 'error', message: `engine ${engine.id}: GPU ${missing.join(', ')} not present` });
    }
  }
  return lines;
}

/** Checks a loaded (hence valid) configuration against this machine. */
export async function checkNode(config: AgentConfig, options: CheckOptions = {}): Promise<CheckReport> {
  const path = options.path ?? process.env.PATH ?? '';
  const lines: CheckLine[] = [{ level: 'ok', message: `config valid: ${config.engines.length} engine(s)` }];
  for (const engine of config.engines) lines.push(await checkEngineBinary(engine, path));
  lines.push(...(await checkGpus(config, options.nvidiaSmi ?? 'nvidia-smi', path)));
  lines.push(...(await checkPorts(config)));
  return { ok: lines.every((line) => line.level !== 'error'), lines };
}
