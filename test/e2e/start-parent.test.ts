/**
 * `npm start` sent SIGTERM exits without passing the signal to the script it runs; the script
 * must still stop what it started once it finds itself without a parent.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { descendantsOf, freePort } from '../../gpu-node/index.ts';
import { noneAlive } from '../support/processes.ts';
import { waitFor } from '../support/wait-for.ts';

const root = path.resolve(import.meta.dirname, '../..');

it('stops the gateway it started when the process that ran it dies', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-parent-'));
  // A stand-in for npm: runs the start script, prints its pid once it is up, then is SIGKILLed.
  const launcher = spawn(
    process.execPath,
    [
      '-e',
      // The script's output goes to a file, as to a terminal: it stays writable after the launcher dies.
      `const { spawn } = require('node:child_process');
       const fs = require('node:fs');
       const out = ${JSON.stringify(path.join(home, 'start.out'))};
       const start = spawn(process.execPath, ['scripts/start.ts', '--no-agent'], { stdio: ['ignore', fs.openSync(out, 'w'), 'inherit'] });
       const poll = setInterval(() => {
         if (fs.readFileSync(out, 'utf8').includes('Switchyard is running')) { console.log(start.pid); clearInterval(poll); }
       }, 100);
       setInterval(() => {}, 1000);`,
    ],
    {
      cwd: root,
      env: { ...process.env, PORT: String(await freePort()), SWITCHYARD_HOME: home },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const startPid = await new Promise<number>((resolve, reject) => {
      launcher.stdout!.on('data', (d: Buffer) => resolve(Number(String(d).trim())));
      launcher.once('exit', () => reject(new Error('the launcher exited early')));
    });
    const started = [startPid, ...descendantsOf(startPid)];
    expect(started.length).toBeGreaterThanOrEqual(2); // the script and workerd
    launcher.kill('SIGKILL');
    await waitFor('every process the script started to exit', () => noneAlive(started), {
      timeoutMs: 15_000,
      intervalMs: 200,
    });
  } finally {
    launcher.kill('SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  }
}, 60_000);
