import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../gpu-node/index.ts';
import { noneAlive } from '../support/processes.ts';
import { makeTempDir, removeTempDirs } from '../support/throwaway-engine.ts';
import { waitFor } from '../support/wait-for.ts';

const started: ChildProcess[] = [];

afterAll(removeTempDirs);

afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Spawns gpu-node/sim/main.ts as the supervisor would and waits for its "listening on" line. */
async function spawnSimulator(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['gpu-node/sim/main.ts', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`simulator exited early with ${code}: ${output}`)));
  });
  return { child, url };
}

function complete(url: string): Promise<Response> {
  return fetch(`${url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'crashy', prompt: 'hello', max_tokens: 2 }),
  });
}

describe('engine simulator as a process', () => {
  it('exits with code 1 right after crash-after completed requests', async () => {
    const { child, url } = await spawnSimulator([
      '--served-model-name',
      'crashy',
      '--crash-after',
      '2',
      '--time-scale',
      '0',
    ]);
    const exited = once(child, 'exit');

    expect((await complete(url)).status).toBe(200);
    const second = await complete(url);
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ usage: { completion_tokens: 2 } });

    const [code] = await exited;
    expect(code).toBe(1);
  });

  it('exits 0 on SIGTERM and 2 with a readable message on bad flags', async () => {
    const { child } = await spawnSimulator(['--served-model-name', 'calm']);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);

    const bad = spawn(process.execPath, ['gpu-node/sim/main.ts', '--fail-rate', '3'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    started.push(bad);
    let stderr = '';
    bad.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect((await once(bad, 'exit'))[0]).toBe(2);
    expect(stderr).toContain('--served-model-name');
    expect(stderr).toContain('--fail-rate');
  });
});

describe('an orphaned simulator', () => {
  it('stops itself when the process that launched it dies without stopping it', async () => {
    // The simulator's output goes to a file, as to a terminal: it stays writable after the launcher dies.
    const out = join(makeTempDir('orphan'), 'sim.out');
    // A stand-in agent: launches the simulator detached, prints its pid, then is SIGKILLed.
    const launcher = spawn(
      process.execPath,
      [
        '-e',
        `const { spawn } = require('node:child_process');
         const fs = require('node:fs');
         const sim = spawn(process.execPath, ['gpu-node/sim/main.ts', '--port', '0', '--served-model-name', 'orphan'],
           { detached: true, stdio: ['ignore', fs.openSync(${JSON.stringify(out)}, 'w'), 'ignore'] });
         console.log(sim.pid);
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    started.push(launcher);
    const [line] = (await once(launcher.stdout!, 'data')) as [Buffer];
    const simPid = Number(line.toString().trim());
    try {
      // First proof that it runs: it says where it listens, and answers there.
      const url = await waitFor(
        'the simulator to say where it listens',
        () => /listening on (http:\/\/\S+)/.exec(readFileSync(out, 'utf8'))?.[1],
        { timeoutMs: 10_000 },
      );
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect(isAlive(simPid)).toBe(true);

      launcher.kill('SIGKILL');
      await waitFor('the orphaned simulator to exit', () => noneAlive([simPid]));
    } finally {
      if (isAlive(simPid)) process.kill(simPid, 'SIGKILL');
    }
  });
});
