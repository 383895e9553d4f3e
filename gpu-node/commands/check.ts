/**
 * `gpu-node check`: the configuration, this machine (binaries, Pythons, GPUs, ports) and the
 * gateway (reachable, token and registration accepted), one line per finding; exit 1 on errors.
 */
import { stat } from 'node:fs/promises';
import { type CheckLine, checkNode } from '../check.ts';
import { loadAgentConfig } from '../config.ts';
import { checkGateway } from '../gateway-check.ts';
import type { Listen } from '../port-claims.ts';

const CHECK_MARKS = { ok: 'ok   ', warn: 'warn ', error: 'error' } as const;

export async function checkConfig(options: { config: string; metricsListen: Listen | null }): Promise<void> {
  const config = await loadAgentConfig(options.config);
  const [machine, gateway, mode] = await Promise.all([
    checkNode(config, { metricsListen: options.metricsListen }),
    checkGateway(config),
    configFileMode(options.config),
  ]);
  const lines = [...machine.lines, mode, ...gateway].filter((line): line is CheckLine => line !== null);
  for (const line of lines) process.stdout.write(`${CHECK_MARKS[line.level]} ${line.message}\n`);
  process.exitCode = lines.some((line) => line.level === 'error') ? 1 : 0;
}

/** The file may hold the node token, which registers nodes that receive users' prompts. */
async function configFileMode(path: string): Promise<CheckLine | null> {
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) === 0) return null;
  return {
    level: 'warn',
    message: `${path} is readable by other users (mode ${mode.toString(8)}) and may hold the node token: chmod 600 ${path}`,
  };
}
