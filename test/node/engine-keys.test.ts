/**
 * Engine API keys never appear on a command line. Every engine kind the agent launches is
 * started by the real supervisor and adapter: the simulator for real, the others as stand-ins
 * that record the key they were given (a shell `vllm` and `llama-server` reading their
 * environment; `sglang` and `lmdeploy` packages on PYTHONPATH run by the real python3, which
 * record their `sys.argv`). Then `ps` (every process, full command lines) must not show any key.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineKind } from '../../src/protocol/node-api.ts';
import type { EngineConfig } from '../../gpu-node/engines/engine-adapter.ts';
import { adapterFor } from '../../gpu-node/engines/index.ts';
import { freePort } from '../../gpu-node/index.ts';
import { EngineSupervisor } from '../../gpu-node/supervisor.ts';
import { makeTempDir, removeTempDirs, silentLogger } from '../support/throwaway-engine.ts';
import { waitFor } from '../support/wait-for.ts';

const supervisors: EngineSupervisor[] = [];
afterAll(async () => {
  await Promise.all(supervisors.map((supervisor) => supervisor.stop()));
  removeTempDirs();
});

const dir = makeTempDir('engine-keys');
const keyFile = (kind: EngineKind) => join(dir, `${kind}.received`);

/** A shell engine that writes the variable its real counterpart reads its key from, then idles. */
function shellEngine(name: string, variable: string): string {
  const path = join(dir, 'bin', name);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(path, `#!/bin/sh\nprintf '%s' "$${variable}" > "$KEY_OUT"\nexec sleep 60\n`);
  chmodSync(path, 0o755);
  return path;
}

/**
 * A Python package standing in for the engine's module: records the last argument (the key the
 * launch program appended) and whether the key variable was still in its environment.
 */
function pythonEngine(module: string, file: string): void {
  const packageDir = join(dir, 'python', module.split('.')[0]!);
  mkdirSync(packageDir, { recursive: true });
  writeFileSync(join(packageDir, '__init__.py'), '');
  writeFileSync(
    join(packageDir, file),
    [
      'import os, sys, time',
      'leaked = "GPU_NODE_ENGINE_API_KEY" in os.environ',
      'open(os.environ["KEY_OUT"], "w").write(sys.argv[-1] if not leaked else "still in the environment")',
      'time.sleep(60)',
    ].join('\n'),
  );
}

const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], {
  encoding: 'utf8',
}).trim();

async function launch(kind: EngineKind, overrides: Partial<EngineConfig> = {}): Promise<EngineSupervisor> {
  const supervisor = new EngineSupervisor({
    engine: {
      id: `${kind}-engine`,
      kind,
      model: 'some/model',
      servedModelName: `${kind}-model`,
      port: await freePort(),
      gpus: [],
      args: [],
      env: { KEY_OUT: keyFile(kind), PYTHONPATH: join(dir, 'python') },
      maxConcurrency: 4,
      ...overrides,
    },
    adapter: adapterFor(kind),
    logDir: join(dir, 'logs'),
    logger: silentLogger,
    timings: { startupProbeIntervalMs: 50, probeTimeoutMs: 500, stopGraceMs: 500 },
  });
  supervisors.push(supervisor);
  supervisor.start();
  return supervisor;
}

describe('engine API keys', () => {
  it('reach every launched engine kind, and no command line on the machine shows one', async () => {
    pythonEngine('sglang', 'launch_server.py');
    pythonEngine('lmdeploy', '__main__.py');
    const engines = {
      vllm: await launch('vllm', { command: shellEngine('vllm', 'VLLM_API_KEY') }),
      llamacpp: await launch('llamacpp', { command: shellEngine('llama-server', 'LLAMA_API_KEY') }),
      sglang: await launch('sglang', { command: python }),
      lmdeploy: await launch('lmdeploy', { command: python }),
    };
    const sim = await launch('sim');

    for (const [kind, supervisor] of Object.entries(engines)) {
      const received = await waitFor(`${kind} to record its key`, () =>
        existsSync(keyFile(kind as EngineKind)) ? readFileSync(keyFile(kind as EngineKind), 'utf8') : '',
      );
      expect(received, kind).toBe(supervisor.apiKey);
    }
    await waitFor('the simulator to be ready', () => sim.state === 'ready', { timeoutMs: 15_000 });
    const models = `${sim.baseUrl}/v1/models`;
    expect((await fetch(models)).status).toBe(401);
    expect((await fetch(models, { headers: { authorization: `Bearer ${sim.apiKey}` } })).status).toBe(200);

    const everyCommandLine = execFileSync('ps', ['-eo', 'pid,args', '-ww'], { encoding: 'utf8' });
    for (const supervisor of [...Object.values(engines), sim]) {
      expect(everyCommandLine).toContain(String(supervisor.pid));
      expect(everyCommandLine, supervisor.engine.kind).not.toContain(supervisor.apiKey);
    }
  });
});
