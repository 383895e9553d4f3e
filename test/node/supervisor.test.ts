import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { EngineState } from '../../src/protocol/node-api.ts';
import { EngineSupervisor, type SupervisorTimings } from '../../gpu-node/supervisor.ts';
import { adapterFor } from '../../gpu-node/engines/index.ts';
import { freePort, groupAlive, isAlive } from '../../gpu-node/index.ts';
import {
  engineConfig,
  makeTempDir,
  removeTempDirs,
  scriptAdapter,
  silentLogger,
  writeEngineScript,
} from '../support/throwaway-engine.ts';
import { waitFor } from '../support/wait-for.ts';

const FAST: Partial<SupervisorTimings> = {
  startupProbeIntervalMs: 20,
  probeTimeoutMs: 500,
  healthIntervalMs: 30,
  unhealthyAfterFailures: 2,
  backoff: { baseMs: 150, capMs: 1_000, random: () => 1 },
  stopGraceMs: 300,
};

afterAll(removeTempDirs);

const running: EngineSupervisor[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((supervisor) => supervisor.stop()));
});

async function startEngine(
  env: (dir: string) => Record<string, string>,
  timings: Partial<SupervisorTimings> = {},
) {
  const dir = makeTempDir('supervisor');
  const transitions: Array<{ state: EngineState; at: number }> = [];
  const supervisor = new EngineSupervisor({
    engine: engineConfig(await freePort(), env(dir)),
    adapter: scriptAdapter(writeEngineScript(dir)),
    logDir: join(dir, 'logs'),
    logger: silentLogger,
    timings: { ...FAST, ...timings },
    hooks: { stateChanged: (state) => transitions.push({ state, at: Date.now() }) },
  });
  running.push(supervisor);
  supervisor.start();
  return { supervisor, dir, transitions, states: () => transitions.map((t) => t.state) };
}

describe('EngineSupervisor', () => {
  it('reports ready only after the probe passes, and keeps the engine output in the log file and ring', async () => {
    const { supervisor } = await startEngine(() => ({}));
    expect(supervisor.state).toBe('starting');
    await waitFor('ready', () => supervisor.state === 'ready');
    await waitFor('output captured', () => supervisor.report().lastLogLines.includes('engine listening'));
    // The file is written asynchronously; the ring buffer is not.
    await waitFor('output in the log file', () =>
      readFileSync(supervisor.log.path, 'utf8').includes('engine booting'),
    );
    expect(supervisor.report()).toMatchObject({
      id: 'e1',
      model: 'm',
      state: 'ready',
      restarts: 0,
      maxConcurrency: 4,
    });
  });

  it('restarts a crashed engine after the backoff delay and counts the restart', async () => {
    const { supervisor, transitions, states } = await startEngine((dir) => ({
      CRASH_ONCE_MARKER: join(dir, 'crashed'),
    }));
    await waitFor(
      'ready again after the crash',
      () => supervisor.restarts === 1 && supervisor.state === 'ready',
    );
    expect(states()).toEqual(['ready', 'restarting', 'starting', 'ready']);
    const restarting = transitions.find((t) => t.state === 'restarting')!;
    const relaunched = transitions.find((t) => t.state === 'starting' && t.at >= restarting.at)!;
    // random() pinned to 1: the first delay is exactly the base.
    expect(relaunched.at - restarting.at).toBeGreaterThanOrEqual(140);
    expect(supervisor.report().lastLogLines.some((line) => line.includes('process exited (code 3)'))).toBe(
      true,
    );
  });

  it('reports a crash loop and stops restarting an engine that keeps dying, until revived', async () => {
    const { supervisor, dir } = await startEngine(
      (dir) => ({ EXIT_AT_ONCE: '1', SPAWN_LOG: join(dir, 'spawns') }),
      {
        backoff: { baseMs: 10, capMs: 20 },
        crashLoopMaxCrashes: 2,
        crashLoopWindowMs: 60_000,
      },
    );
    await waitFor('crashloop', () => supervisor.state === 'crashloop');
    const spawns = () => readFileSync(join(dir, 'spawns'), 'utf8').trim().split('\n').length;
    expect(spawns()).toBe(3);
    expect(supervisor.restarts).toBe(2);
    // Checks that nothing happens: no launch in 300 ms, 15 times the 20 ms backoff cap.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(spawns()).toBe(3);
    expect(supervisor.state).toBe('crashloop');
    expect(supervisor.report().lastLogLines).toContain('cannot load weights');
    // What SIGHUP to the agent does: a fresh start with a clean crash history.
    expect(supervisor.revive()).toBe(true);
    await waitFor('crash-looped again after three more launches', () => spawns() === 6);
    await waitFor('crashloop again', () => supervisor.state === 'crashloop');
  });

  it('marks an engine unhealthy after failed probes and ready again when it recovers', async () => {
    const { supervisor, dir } = await startEngine((dir) => ({ SICK_MARKER: join(dir, 'sick') }));
    await waitFor('ready', () => supervisor.state === 'ready');
    writeFileSync(join(dir, 'sick'), '');
    await waitFor('unhealthy', () => supervisor.state === 'unhealthy');
    rmSync(join(dir, 'sick'));
    await waitFor('ready again', () => supervisor.state === 'ready');
    expect(supervisor.restarts).toBe(0);
  });

  it('stop() kills the whole process group, SIGKILLing what ignores SIGTERM, and leaves no orphan', async () => {
    const { supervisor, dir } = await startEngine((dir) => ({ CHILD_PID_FILE: join(dir, 'child.pid') }));
    await waitFor('ready', () => supervisor.state === 'ready' && existsSync(join(dir, 'child.pid')));
    const leader = supervisor.pid!;
    const grandchild = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
    expect(isAlive(grandchild)).toBe(true);
    await supervisor.stop();
    expect(supervisor.state).toBe('stopped');
    expect(isAlive(leader)).toBe(false);
    expect(isAlive(grandchild)).toBe(false);
    expect(groupAlive(leader)).toBe(false);
  });
});

describe('engine API keys', () => {
  it('uses an external engine’s own key and makes a fresh one for launched engines', () => {
    const make = (apiKey?: string) =>
      new EngineSupervisor({
        engine: { ...engineConfig(1, {}), kind: 'external', ...(apiKey ? { apiKey } : {}) },
        adapter: adapterFor('external'),
        logDir: '/tmp',
        logger: silentLogger,
      });
    expect(make('k-own').apiKey).toBe('k-own');
    const [a, b] = [make(), make()];
    expect(a.apiKey).toMatch(/^[\w-]{32}$/);
    expect(a.apiKey).not.toBe(b.apiKey);
  });
});
