/**
 * `gpu-node init`: from a node token to a configuration that loads, with what this machine
 * has (engines on PATH, the Python that has SGLang or LMDeploy, the GPUs) written in, and
 * refusals that name what is missing. The machine is a PATH of stand-ins.
 */
import { execFile } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadAgentConfig } from '../../gpu-node/config.ts';
import { parseEngineRequest } from '../../gpu-node/enrol.ts';
import { tooOldNodeMessage } from '../../gpu-node/node-version.ts';
import { GPU_NODE_BIN } from '../support/agent-process.ts';
import { makeTempDir, removeTempDirs } from '../support/throwaway-engine.ts';

afterAll(removeTempDirs);

const TOKEN = 'snt-enroltst.0123456789abcdef0123456789abcdef';
let bin: string;

function executable(path: string, text: string): string {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

beforeAll(() => {
  bin = makeTempDir('enrol-bin');
  executable(join(bin, 'vllm'), '#!/bin/sh\nexit 0\n');
  executable(join(bin, 'nvidia-smi'), '#!/bin/sh\necho "0, GPU-a, NVIDIA L4, 1, 23034, 0, 30"\n');
  // LMDeploy installed in a venv whose python is not on PATH; only its console script is.
  const venv = makeTempDir('enrol-venv');
  const python = executable(join(venv, 'python3'), '#!/bin/sh\nexit 0\n');
  executable(join(bin, 'lmdeploy'), `#!${python}\nimport sys\n`);
});

/** `gpu-node ARGS` in `cwd` on the stand-in PATH (no python3 there, so no SGLang is found). */
async function cli(args: string[], cwd: string, env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [GPU_NODE_BIN, ...args], {
      cwd,
      env: { PATH: bin, SWITCHYARD_NODE_TOKEN: '', ...env },
    });
    return { code: 0, stdout, stderr, cwd };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr, cwd };
  }
}

const init = (args: string[], env: Record<string, string> = {}) =>
  cli(['init', ...args], makeTempDir('enrol'), env);

describe('gpu-node init', () => {
  it('writes an owner-only config that loads, with the engines and GPUs it found', async () => {
    const result = await init(
      [
        '--gateway',
        'https://gw.example.com',
        '--engine',
        'vllm=Qwen/Qwen2.5-7B-Instruct',
        '--engine',
        'lmdeploy=internlm/x',
      ],
      { SWITCHYARD_NODE_TOKEN: TOKEN },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`found vllm: ${join(bin, 'vllm')}`);
    expect(result.stdout).toContain('no sglang: no python3 on PATH can import sglang');
    expect(result.stdout).toContain('GPUs: 0 NVIDIA L4');
    const file = join(result.cwd, 'gpu-node.yaml');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain('# GPUs: 0 NVIDIA L4.');
    const config = await loadAgentConfig(file, {});
    expect(config.gateway).toEqual({ url: 'https://gw.example.com', nodeToken: TOKEN });
    expect(config.node.listen).toEqual({ host: '0.0.0.0', port: 8100 });
    expect(config.node.publicUrl).toMatch(/^http:\/\/.+:8100$/);
    expect(config.engines.map(({ kind, model, command }) => ({ kind, model, command }))).toEqual([
      { kind: 'vllm', model: 'Qwen/Qwen2.5-7B-Instruct', command: join(bin, 'vllm') },
      { kind: 'lmdeploy', model: 'internlm/x', command: expect.stringMatching(/enrol-venv-.*\/python3$/) },
    ]);
    expect(new Set(config.engines.map((engine) => engine.port)).size).toBe(2);
  });

  it('takes the token, name, addresses and output from flags', async () => {
    const result = await init([
      '--gateway',
      'http://10.0.0.2:8787',
      '--token',
      TOKEN,
      '--engine',
      'sim=demo',
      '--name',
      'box-7',
      '--listen',
      '127.0.0.1:9100',
      '--public-url',
      'https://box-7.example.com',
      '--output',
      'node.yaml',
    ]);
    expect(result.code).toBe(0);
    const written = parseYaml(readFileSync(join(result.cwd, 'node.yaml'), 'utf8')) as Record<string, unknown>;
    expect(written).toMatchObject({
      node: {
        name: 'box-7',
        listen: { host: '127.0.0.1', port: 9100 },
        publicUrl: 'https://box-7.example.com',
      },
      engines: [{ kind: 'sim', model: 'demo' }],
    });
    expect(result.stdout).toContain('next: gpu-node check --config node.yaml');
  });

  it('exits 2 naming everything missing: gateway, token, engine', async () => {
    const result = await init([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--gateway URL');
    expect(result.stderr).toContain('--token or SWITCHYARD_NODE_TOKEN');
    expect(result.stderr).toContain('--engine KIND=MODEL');
  });

  it('refuses a token that is not a node token, a bad URL, and overwriting without --force', async () => {
    const [badToken, badUrl, example] = await Promise.all([
      init(['--gateway', 'https://gw', '--token', 'sk-abc', '--engine', 'sim=m']),
      init(['--gateway', 'gw.example.com', '--token', TOKEN, '--engine', 'sim=m']),
      init(['--example']),
    ]);
    expect(badToken.code).toBe(2);
    expect(badToken.stderr).toContain('snt-<id>.<secret>');
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('gateway.url');
    expect(example.code).toBe(0);
    const again = await cli(['init', '--example'], example.cwd);
    expect(again).toMatchObject({ code: 2, stderr: expect.stringContaining('pass --force') });
  });

  it('leaves an example that check refuses until its placeholders are replaced', async () => {
    const { cwd } = await init(['--example']);
    const check = await cli(['check', '--metrics-listen', 'off'], cwd);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^error\s+gateway\.nodeToken is not a node token/m);
  });

  it('parses --engine as KIND=MODEL, keeping everything after the first = as the model', () => {
    expect(parseEngineRequest('llamacpp=/m/q.gguf')).toEqual({ kind: 'llamacpp', model: '/m/q.gguf' });
    expect(parseEngineRequest('sim=a=b')).toEqual({ kind: 'sim', model: 'a=b' });
    expect(() => parseEngineRequest('external=x')).toThrow(/KIND one of vllm, sglang/);
    expect(() => parseEngineRequest('vllm')).toThrow(/KIND=MODEL/);
  });
});

describe('the Node version check of the built agent', () => {
  it('lets Node 20.15 and newer through and tells an older Node what it needs', () => {
    expect(tooOldNodeMessage('20.15.0')).toBeNull();
    expect(tooOldNodeMessage('22.12.0')).toBeNull();
    expect(tooOldNodeMessage('18.20.4')).toContain(
      'Node 18.20.4 is too old; the agent needs Node 20.15.0 or newer',
    );
    expect(tooOldNodeMessage('20.14.9')).not.toBeNull();
  });
});
