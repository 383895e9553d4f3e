/** Runs the real `gpu-node` CLI as a child process and collects its JSON log lines. */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const GPU_NODE_BIN = fileURLToPath(new URL('../../gpu-node/bin/gpu-node.js', import.meta.url));

export interface AgentProcess {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runGpuNode(args: string[]): AgentProcess {
  const child = spawn(process.execPath, [GPU_NODE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  let stdoutRest = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (stdoutRest + chunk.toString()).split('\n');
    stdoutRest = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, logs, stderr: () => stderr, exited };
}

export function writeConfig(dir: string, config: unknown): string {
  const path = join(dir, 'gpu-node.yaml');
  writeFileSync(path, stringify(config));
  return path;
}
