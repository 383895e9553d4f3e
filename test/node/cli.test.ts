import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../gpu-node/index.ts';
import { runGpuNode, writeConfig } from '../support/agent-process.ts';
import { makeTempDir, removeTempDirs } from '../support/throwaway-engine.ts';
import { waitFor } from '../support/wait-for.ts';

afterAll(removeTempDirs);

async function finished(args: string[]) {
  const run = runGpuNode(args);
  const { code } = await run.exited;
  return { code, stdout: run.logs.map((line) => String(line.msg)).join('\n'), stderr: run.stderr() };
}

async function simConfig(dir: string, engine: Record<string, unknown>) {
  const port = await freePort();
  return writeConfig(dir, {
    gateway: { url: 'http://127.0.0.1:9', nodeToken: 'nt' },
    node: { name: 'cli-test', listen: { host: '127.0.0.1', port }, publicUrl: `http://127.0.0.1:${port}` },
    logDir: join(dir, 'logs'),
    engines: [{ model: 'sim-model', port: await freePort(), ...engine }],
  });
}

describe('gpu-node CLI', () => {
  it('prints help for the program and every command', async () => {
    const [root, start, check, sim] = await Promise.all([
      finished(['--help']),
      finished(['start', '--help']),
      finished(['check', '--help']),
      finished(['sim', '--help']),
    ]);
    expect(root).toMatchObject({ code: 0 });
    expect(root.stdout).toMatch(/start.*\n[\s\S]*check[\s\S]*sim/);
    expect(start.stdout).toContain('--config <file>');
    expect(start.stdout).toContain('--log-level');
    expect(check.stdout).toContain('--config <file>');
    expect(sim.stdout).toContain('--served-model-name');
    expect([start.code, check.code, sim.code]).toEqual([0, 0, 0]);
  });

  it('exits 2 with a readable message naming the field when the config is invalid', async () => {
    const dir = makeTempDir('cli');
    const config = writeConfig(dir, { gateway: { url: 'not a url', nodeToken: 'nt' }, engines: [] });
    const result = await finished(['start', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('gateway.url');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('check prints one line per finding and exits non-zero only when one is an error', async () => {
    const dir = makeTempDir('cli');
    const [fine, broken] = await Promise.all([
      finished(['check', '--config', await simConfig(dir, { kind: 'sim' })]),
      finished([
        'check',
        '--config',
        await simConfig(makeTempDir('cli'), { kind: 'vllm', command: '/nonexistent/vllm' }),
      ]),
    ]);
    expect(fine.code).toBe(0);
    expect(fine.stdout).toMatch(/^ok\s+config valid/m);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^error\s+.*\/nonexistent\/vllm/m);
  });

  it('sim runs the simulator until SIGTERM, then exits 0', async () => {
    const port = await freePort();
    const sim = runGpuNode(['sim', '--port', String(port), '--served-model-name', 'demo']);
    await waitFor('listening', () => sim.logs.some((line) => String(line.msg).includes('listening')), {
      timeoutMs: 10_000,
    });
    const models = (await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json()) as {
      data: Array<{ id: string }>;
    };
    expect(models.data.map((model) => model.id)).toEqual(['demo']);
    sim.child.kill('SIGTERM');
    expect((await sim.exited).code).toBe(0);
  });
});
