/**
 * Runs the real local system — `npm start`'s script: the gateway on plain workerd, a real
 * agent, real simulator processes — in a temporary state folder, for the end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { descendantsOf, freePort } from '../../gpu-node/index.ts';
import { waitFor } from './wait-for.ts';

const root = path.resolve(import.meta.dirname, '../..');

export interface LocalSystem {
  gatewayUrl: string;
  demoKey: string;
  home: string;
  /** The one-time dashboard sign-in link `npm start` printed for the operator (null if none). */
  signInLink: string | null;
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
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  try {
    await waitFor(
      'npm start to print "Switchyard is running"',
      () => output.includes('Switchyard is running') || ended(),
      {
        timeoutMs: 90_000,
        intervalMs: 100,
      },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}:\n${output}`);
  }
  if (ended()) throw new Error(`npm start exited (${child.exitCode ?? child.signalCode}):\n${output}`);
  const state = JSON.parse(fs.readFileSync(path.join(home, 'state.json'), 'utf8')) as {
    demoKey: { key: string };
  };
  const signInLink = /^ {2}Sign in {6}(\S+)/m.exec(output)?.[1] ?? null;
  return {
    gatewayUrl: `http://127.0.0.1:${port}`,
    demoKey: state.demoKey.key,
    home,
    signInLink,
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

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}
