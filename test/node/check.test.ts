import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkNode, findExecutable } from '../../gpu-node/check.ts';
import { parseAgentConfig, type AgentConfig } from '../../gpu-node/config.ts';
import { freePort } from '../../gpu-node/index.ts';

let dir: string;
let binDir: string;
let smi: string;
const held: Server[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-check-'));
  binDir = join(dir, 'bin');
  await writeFile(join(dir, 'placeholder'), '');
  await mkdir(binDir);
  // A stand-in vllm on PATH and an nvidia-smi that reports GPUs 0 and 1.
  await writeFile(join(binDir, 'vllm'), '#!/bin/sh\nexit 0\n');
  await chmod(join(binDir, 'vllm'), 0o755);
  smi = join(dir, 'nvidia-smi');
  await writeFile(
    smi,
    '#!/bin/sh\necho "0, GPU-a, NVIDIA L4, 1, 23034, 0, 30"\necho "1, GPU-b, NVIDIA L4, 1, 23034, 0, 31"\n',
  );
  await chmod(smi, 0o755);
});

afterAll(async () => {
  await Promise.all(held.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await rm(dir, { recursive: true, force: true });
});

/** Holds a loopback port, as another process would; returns its number. */
async function holdPort(): Promise<number> {
  const server = createServer();
  held.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function configWith(engines: unknown[]): Promise<AgentConfig> {
  return parseAgentConfig(
    {
      gateway: { url: 'http://127.0.0.1:1', nodeToken: 'nt' },
      node: {
        name: 'box',
        listen: { host: '127.0.0.1', port: await freePort() },
        publicUrl: 'http://box:8100',
      },
      engines,
    },
    { env: {} },
  );
}

describe('checkNode', () => {
  it('passes a node whose engines, GPUs and ports are all in order', async () => {
    const config = await configWith([
      { kind: 'vllm', model: 'org/m', port: await freePort(), gpus: [1] },
      { kind: 'sim', id: 'sim', model: 's', port: await freePort() },
      { kind: 'external', id: 'ext', model: 'x', port: 11434 },
    ]);
    const report = await checkNode(config, { path: binDir, nvidiaSmi: smi });
    expect(report.ok).toBe(true);
    expect(report.lines.map((line) => line.level)).not.toContain('error');
    expect(report.lines).toEqual(
      expect.arrayContaining([
        { level: 'ok', message: 'config valid: 3 engine(s)' },
        { level: 'ok', message: `engine org-m: vllm runs ${join(binDir, 'vllm')}` },
        { level: 'ok', message: `engine sim: sim runs ${process.execPath}` },
        { level: 'ok', message: 'engine ext: external, not launched; expected at http://127.0.0.1:11434' },
        { level: 'ok', message: '2 GPU(s): 0 NVIDIA L4; 1 NVIDIA L4' },
      ]),
    );
    expect(report.lines.filter((line) => line.message.includes('is free'))).toHaveLength(3);
  });

  it('reports a missing binary, a taken port and an absent GPU as errors', async () => {
    const taken = await holdPort();
    const config = await configWith([
      { kind: 'sglang', model: 'org/a', port: await freePort() },
      { kind: 'lmdeploy', model: 'org/b', port: taken, command: join(dir, 'placeholder') },
      { kind: 'vllm', model: 'org/c', port: await freePort(), gpus: [0, 3] },
    ]);
    const report = await checkNode(config, { path: binDir, nvidiaSmi: smi });
    expect(report.ok).toBe(false);
    expect(report.lines.filter((line) => line.level === 'error')).toEqual([
      { level: 'error', message: 'engine org-a: python3 is not on PATH' },
      { level: 'error', message: `engine org-b: ${join(dir, 'placeholder')} is not an executable file` },
      { level: 'error', message: 'engine org-c: GPU 3 not present' },
      {
        level: 'error',
        message: `port ${taken} for engine org-b (engines[1].port) is not free (EADDRINUSE): another process listens there`,
      },
    ]);
  });

  it('only warns when nvidia-smi is absent, and says pinned GPUs cannot be verified', async () => {
    const config = await configWith([
      { kind: 'sim', id: 'sim', model: 's', port: await freePort(), gpus: [0] },
    ]);
    const report = await checkNode(config, { path: binDir, nvidiaSmi: 'nvidia-smi' });
    expect(report.ok).toBe(true);
    expect(report.lines.filter((line) => line.level === 'warn')).toEqual([
      { level: 'warn', message: 'nvidia-smi not found: no GPU figures in heartbeats' },
      { level: 'warn', message: 'engine sim: cannot verify GPUs 0' },
    ]);
  });
});

describe('checkNode, Python engines and the metrics port', () => {
  it('reports a python3 that cannot import the engine it should run, and passes one that can', async () => {
    const pythons = join(dir, 'pythons');
    await mkdir(pythons);
    // Stand-ins answering the import probe: exit 0 (found) or 3 (not found), as find_spec makes it.
    for (const [name, code] of [
      ['with-sglang', 0],
      ['bare', 3],
    ] as const) {
      await writeFile(join(pythons, name), `#!/bin/sh\nexit ${code}\n`);
      await chmod(join(pythons, name), 0o755);
    }
    const config = await configWith([
      {
        kind: 'sglang',
        id: 'good',
        model: 'a',
        port: await freePort(),
        command: join(pythons, 'with-sglang'),
      },
      { kind: 'lmdeploy', id: 'bad', model: 'b', port: await freePort(), command: join(pythons, 'bare') },
    ]);
    const report = await checkNode(config, { path: binDir, nvidiaSmi: smi });
    expect(report.lines).toEqual(
      expect.arrayContaining([
        { level: 'ok', message: `engine good: sglang runs ${join(pythons, 'with-sglang')}` },
        {
          level: 'error',
          message: `engine bad: ${join(pythons, 'bare')} cannot import lmdeploy; set command to the python3 that has it`,
        },
      ]),
    );
  });

  it('checks the metrics port when told where metrics listen', async () => {
    const taken = await holdPort();
    const config = await configWith([{ kind: 'sim', id: 'sim', model: 's', port: await freePort() }]);
    const report = await checkNode(config, {
      path: binDir,
      nvidiaSmi: smi,
      metricsListen: { host: '127.0.0.1', port: taken },
    });
    expect(report.ok).toBe(false);
    expect(report.lines).toContainEqual({
      level: 'error',
      message: `port ${taken} for the agent's metrics (--metrics-listen) is not free (EADDRINUSE): another process listens there`,
    });
  });
});

describe('findExecutable', () => {
  it('searches PATH for a bare name and checks a path as given', async () => {
    await expect(findExecutable('vllm', `/nonexistent:${binDir}`)).resolves.toBe(join(binDir, 'vllm'));
    await expect(findExecutable('llama-server', binDir)).resolves.toBeNull();
    await expect(findExecutable(smi, '')).resolves.toBe(smi);
    await expect(findExecutable(join(dir, 'placeholder'), '')).resolves.toBeNull();
  });
});
