/**
 * Runs plain workerd on a generated config. workerd reports each socket's port on a control
 * descriptor once it listens, which is both the readiness signal and how port 0 is resolved.
 */
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { describeExit, spawnManaged, tailLog, type ManagedChild } from './child-processes.ts';
import { StartError } from './start-error.ts';

interface WorkerdPackage {
  /** Path of the platform binary, resolved by the package itself. */
  default: string;
  /** The newest compatibility date this binary supports. */
  compatibilityDate: string;
}

export function workerdPackage(): WorkerdPackage {
  return createRequire(import.meta.url)('workerd') as WorkerdPackage;
}

export interface RunningWorkerd {
  child: ManagedChild;
  port: number;
}

export interface StartWorkerdOptions {
  configPath: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  appendLog?: boolean;
  timeoutMs?: number;
}

export async function startWorkerd(options: StartWorkerdOptions): Promise<RunningWorkerd> {
  const child = spawnManaged(
    'gateway (workerd)',
    workerdPackage().default,
    ['serve', options.configPath, '--experimental', '--control-fd=3'],
    {
      cwd: options.cwd,
      env: options.env,
      logFile: options.logFile,
      appendLog: options.appendLog,
      extraStdio: ['pipe'],
    },
  );
  const control = child.process.stdio[3] as Readable;
  const timeoutMs = options.timeoutMs ?? 15_000;
  try {
    const port = await Promise.race([
      listenPort(control),
      child.exited.then((exit) => {
        throw new StartError(
          `workerd stopped before it listened (${describeExit(exit)}):\n${tailLog(options.logFile)}`,
        );
      }),
      new Promise<never>((_, reject) =>
        setTimeout(
          () =>
            reject(new StartError(`workerd did not listen within ${timeoutMs} ms; see ${options.logFile}`)),
          timeoutMs,
        ).unref(),
      ),
    ]);
    return { child, port };
  } catch (error) {
    await child.stop(1000);
    throw error;
  }
}

/** Resolves with the HTTP socket's port from workerd's `{"event":"listen",...}` lines. */
function listenPort(control: Readable): Promise<number> {
  return new Promise((resolve) => {
    let buffered = '';
    control.setEncoding('utf8');
    control.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const message = parseControlMessage(line);
        if (message?.event === 'listen' && message.socket === 'http' && message.port) resolve(message.port);
      }
    });
  });
}

function parseControlMessage(line: string): { event?: string; socket?: string; port?: number } | null {
  try {
    return JSON.parse(line) as { event?: string; socket?: string; port?: number };
  } catch {
    return null;
  }
}
