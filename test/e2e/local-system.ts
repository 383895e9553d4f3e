/**
 * Runs the real local system — `npm start`'s script: the gateway on plain workerd, a real
 * agent, real simulator processes — in a temporary state folder, for the end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { descendantsOf } from '../../gpu-node/index.ts';

const root = path.resolve(import.meta.dirname, '../..');

export interface LocalSystem {
  gatewayUrl: string;
  demoKey: string;
  home: string;
  /** Pids of every process `npm start` runs: workerd, the agent, the engines. */
  processes(): number[];
  /** The agent's pid. */
  agentPid(): number;
  /** Ctrl-C, then the exit code. */
  stop(): Promise<number | null>;
}

export async function startLocalSystem(vars: Record<string, string> = {}): Promise<LocalSystem> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-e2e-'));
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(root, 'scripts/start.ts')], {
    cwd: root,
    env: { ...process.env, ...vars, PORT: String(port), SWITCHYARD_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor(
    () => output.includes('Switchyard is running'),
    exited,
    () => output,
    90_000,
  );
  const state = JSON.parse(fs.readFileSync(path.join(home, 'state.json'), 'utf8')) as {
    demoKey: { key: string };
  };
  return {
    gatewayUrl: `http://127.0.0.1:${port}`,
    demoKey: state.demoKey.key,
    home,
    processes: () => descendantsOf(child.pid!),
    agentPid: () => {
      const [pid] = descendantsOf(child.pid!).filter((p) => commandLine(p).includes(`${home}/agent.yaml`));
      if (!pid) throw new Error('the agent is not running');
      return pid;
    },
    stop: () => stopSystem(child, exited),
  };
}

async function stopSystem(child: ChildProcess, exited: Promise<number | null>): Promise<number | null> {
  child.kill('SIGINT');
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 30_000));
  const code = await Promise.race([exited, timeout]);
  if (child.exitCode === null) child.kill('SIGKILL');
  return code;
}

async function waitFor(
  ready: () => boolean,
  exited: Promise<number | null>,
  output: () => string,
  timeoutMs: number,
): Promise<void> {
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (exitCode !== undefined) throw new Error(`npm start exited (${exitCode}):\n${output()}`);
    if (Date.now() > deadline) throw new Error(`npm start was not ready in ${timeoutMs} ms:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
