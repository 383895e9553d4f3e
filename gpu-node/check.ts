/**
 * `gpu-node check`, the machine's half: what can be known here before starting, each finding
 * one line the CLI prints. Errors would stop the agent (a missing engine binary, a Python
 * without its engine, a taken port, a GPU that is not there); warnings are worth knowing but
 * not fatal (no nvidia-smi on a CPU-only demo box). The gateway's half is gateway-check.ts.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { AgentConfig } from './config.ts';
import type { EngineConfig } from './engines/engine-adapter.ts';
import { adapterFor, engineBaseUrl } from './engines/index.ts';
import { readGpuStats } from './gpu-stats.ts';
import { describeTaken, isTaken, type Listen, portClaims, probeClaims } from './port-claims.ts';
import { pythonCanImport } from './python-probe.ts';

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
  /** The agent's metrics listener, whose port is checked too; null or absent: not checked. */
  metricsListen?: Listen | null;
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
  if (adapter.pythonModule && !(await pythonCanImport(found, adapter.pythonModule))) {
    return {
      level: 'error',
      message: `engine ${engine.id}: ${found} cannot import ${adapter.pythonModule}; set command to the python3 that has it`,
    };
  }
  return { level: 'ok', message: `engine ${engine.id}: ${engine.kind} runs ${found}` };
}

async function checkPorts(config: AgentConfig, metricsListen: Listen | null): Promise<CheckLine[]> {
  return (await probeClaims(portClaims(config, metricsListen))).map((claim): CheckLine =>
    isTaken(claim)
      ? { level: 'error', message: describeTaken(claim) }
      : { level: 'ok', message: `port ${claim.port} for ${claim.owner} is free` },
  );
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
  lines.push(...(await checkPorts(config, options.metricsListen ?? null)));
  return { ok: lines.every((line) => line.level !== 'error'), lines };
}
