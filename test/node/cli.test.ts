import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../gpu-node/index.ts';
import { runGpuNode, writeConfig } from '../support/agent-process.ts';
import { makeTempDir, removeTempDirs } from '../support/throwaway-engine.ts';
import { waitFor } from '../support/wait-for.ts';

const NODE_TOKEN = 'snt-clitest1.0123456789abcdef0123456789abcdef';

/** Answers the dry-run registration as the gateway does for a valid token. */
let gatewayUrl: string;
const gateway = http.createServer((req, res) => {
  req.resume();
  const accepted =
    req.url === '/nodes/register/dry-run' && req.headers.authorization === `Bearer ${NODE_TOKEN}`;
  res
    .writeHead(accepted ? 200 : 401, { 'content-type': 'application/json' })
    .end(JSON.stringify(accepted ? { ok: true, heartbeatIntervalMs: 1000, sameName: null } : { error: {} }));
});
beforeAll(async () => {
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
});
afterAll(async () => {
  removeTempDirs();
  await new Promise((resolve) => gateway.close(resolve));
});

async function finished(args: string[]) {
  const run = runGpuNode(args);
  const { code } = await run.exited;
  return { code, stdout: run.logs.map((line) => String(line.msg)).join('\n'), stderr: run.stderr() };
}

async function simConfig(dir: string, engine: Record<string, unknown>) {
  const port = await freePort();
  return writeConfig(dir, {
    gateway: { url: gatewayUrl, nodeToken: NODE_TOKEN },
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
    expect(root.stdout).toMatch(/init[\s\S]*check[\s\S]*start[\s\S]*status[\s\S]*install-service[\s\S]*sim/);
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
    // Not the default 9464, which another agent on this machine may hold.
    const metrics = ['--metrics-listen', String(await freePort())];
    const [fine, broken] = await Promise.all([
      finished(['check', '--config', await simConfig(dir, { kind: 'sim' }), ...metrics]),
      finished([
        'check',
        '--config',
        await simConfig(makeTempDir('cli'), { kind: 'vllm', command: '/nonexistent/vllm' }),
        ...metrics,
      ]),
    ]);
    expect(fine.code).toBe(0);
    expect(fine.stdout).toMatch(/^ok\s+config valid/m);
    expect(fine.stdout).toMatch(/^ok\s+gateway http:\S+ accepts the node token/m);
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
