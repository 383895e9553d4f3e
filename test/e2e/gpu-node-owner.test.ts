/**
 * The GPU owner's path against the real gateway (`npm start`'s system), with the built agent:
 * docs/gpu-node.md's marked commands run as written on Node 20 from the npm package (install,
 * init, check, start, status), a request served through the simulator, then a revoked token that
 * stops the agent; the single-file agent on Node 22; and `check` refusing a bad token and an
 * unreachable gateway. What differs on a test machine is substituted, each substitution checked
 * to be in the docs: the gateway URL, the token, a simulator for vLLM, free ports.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgent, type BuiltAgent } from '../../gpu-node/build.ts';
import { freePort, isAlive } from '../../gpu-node/index.ts';
import { AGENT_VERSION } from '../../gpu-node/version.ts';
import { startLocalSystem, type LocalSystem } from '../support/local-system.ts';
import { makeTempDir, removeTempDirs } from '../support/throwaway-engine.ts';
import { waitFor } from '../support/wait-for.ts';

const ADMIN_TOKEN = 'e2e-owner-admin-token';
const DOC_MARKER = '<!-- run by test/e2e/gpu-node-owner.test.ts -->';

let system: LocalSystem;
let built: BuiltAgent;
const agents: ChildProcess[] = [];

beforeAll(async () => {
  [system, built] = await Promise.all([
    startLocalSystem({ ADMIN_TOKEN }),
    buildAgent(makeTempDir('owner-dist')),
  ]);
}, 120_000);

afterAll(async () => {
  for (const agent of agents) if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
  if (system) await system.stop();
  removeTempDirs();
}, 60_000);

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${system.gatewayUrl}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function nodeToken(name: string): Promise<{ id: string; token: string }> {
  const res = await admin('POST', '/node-tokens', { name, models: ['*'] });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; token: string };
}

/** A Node 20 that is not this test's own Node 22: the system's (or any on PATH). */
function findNode20(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat('/usr/bin', '/usr/local/bin')) {
    const candidate = join(dir, 'node');
    try {
      if (execFileSync(candidate, ['--version'], { encoding: 'utf8' }).startsWith('v20.')) return candidate;
    } catch {
      // not there, or not a Node
    }
  }
  throw new Error(
    'no Node 20 found on PATH or in /usr/bin: the artifact test needs one (npm package node@20)',
  );
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One command to completion; never throws on a non-zero exit. */
async function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, options);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number | null; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A long-running command whose output is collected. */
function background(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  agents.push(child);
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

/** The commands of every block docs/gpu-node.md marks as run by this test, in order. */
function documentedCommands(): string[] {
  const doc = readFileSync(new URL('../../docs/gpu-node.md', import.meta.url), 'utf8');
  const blocks = doc.split(DOC_MARKER).slice(1);
  expect(blocks.length).toBeGreaterThan(0);
  return blocks.flatMap((block) => {
    const code = /^\s*```sh\n([\s\S]*?)```/.exec(block);
    if (!code) throw new Error(`a block marked for this test is not a sh code block: ${block.slice(0, 80)}`);
    return code[1]!.split('\n').filter((line) => line.trim() !== '');
  });
}

async function servedModels(): Promise<string[]> {
  const res = await fetch(`${system.gatewayUrl}/v1/models`, {
    headers: { authorization: `Bearer ${system.demoKey}` },
  });
  return ((await res.json()) as { data: Array<{ id: string }> }).data.map((model) => model.id);
}

async function chat(model: string): Promise<string | null> {
  const client = new OpenAI({ baseURL: `${system.gatewayUrl}/v1`, apiKey: system.demoKey, maxRetries: 0 });
  const reply = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Hello from a GPU owner' }],
    max_tokens: 4,
  });
  return reply.choices[0]!.message.content;
}

describe("the GPU owner's path, as docs/gpu-node.md tells it", () => {
  it('installs on Node 20, enrols, serves a request, shows its status, and stops when its token is revoked', async () => {
    const node20 = findNode20();
    const home = makeTempDir('owner-node20');
    const prefix = join(home, 'npm-global');
    const [token, proxyPort, metricsPort] = [
      await nodeToken('owner-node20'),
      await freePort(),
      await freePort(),
    ];
    const model = 'owner-sim-20';
    // The owner's shell: the installed gpu-node first, then Node 20; nothing of this checkout.
    const env = {
      PATH: [join(prefix, 'bin'), dirname(node20), '/usr/bin', '/bin'].join(delimiter),
      HOME: home,
      npm_config_update_notifier: 'false',
    };
    const substitutions: Array<[string, string]> = [
      ['sudo npm install -g', `npm install -g --no-audit --no-fund --prefix ${prefix}`],
      [`./switchyard-gpu-node-${AGENT_VERSION}.tgz`, built.tarball],
      ['snt-…', token.token],
      ['https://gateway.example.com', system.gatewayUrl],
      [
        'vllm=Qwen/Qwen2.5-7B-Instruct',
        `sim=${model} --name owner-node20 --listen 127.0.0.1:${proxyPort} --public-url http://127.0.0.1:${proxyPort}`,
      ],
      ['gpu-node check', `gpu-node check --metrics-listen ${metricsPort}`],
      ['gpu-node start', `gpu-node start --metrics-listen ${metricsPort}`],
    ];
    const documented = documentedCommands();
    for (const [from] of substitutions) {
      expect(
        documented.some((line) => line.includes(from)),
        `docs/gpu-node.md no longer says "${from}"`,
      ).toBe(true);
    }

    const cwd = makeTempDir('owner-node20-cwd');
    let agent: ReturnType<typeof background> | null = null;
    for (const line of documented) {
      const command = substitutions.reduce((text, [from, to]) => text.replaceAll(from, to), line);
      const exported = /^export (\w+)=(\S+)$/.exec(command);
      if (exported) {
        Object.assign(env, { [exported[1]!]: exported[2] });
        continue;
      }
      const [program, ...args] = command.split(/\s+/);
      if (args[0] === 'start') {
        agent = background(join(prefix, 'bin', program!), args, { cwd, env });
        await waitFor(`the gateway to list ${model}`, async () => (await servedModels()).includes(model), {
          timeoutMs: 30_000,
          intervalMs: 200,
        });
        expect(await chat(model)).toBeTruthy();
        continue;
      }
      const result = await run(program === 'npm' ? 'npm' : join(prefix, 'bin', program!), args, { cwd, env });
      expect(result, `\`${command}\` failed`).toMatchObject({ code: 0 });
      if (args[0] === '--version') expect(result.stdout.trim()).toBe(AGENT_VERSION);
      if (args[0] === 'check') expect(result.stdout).toMatch(/^ok\s+gateway \S+ accepts the node token/m);
      if (args[0] === 'status') {
        expect(result.stdout).toMatch(/^node owner-node20 \(id \w+\): healthy$/m);
        expect(result.stdout).toContain(`(sim, model ${model}): ready, routed to`);
        expect(result.stdout).toContain(`agent     ${AGENT_VERSION}, running as pid`);
      }
    }
    expect(agent, 'the documented commands include gpu-node start').not.toBeNull();
    const agentPid = agent!.child.pid!;
    // The agent really runs on Node 20: its executable is that Node, through npm's shim.
    expect(realpathSync(`/proc/${agentPid}/exe`)).toBe(realpathSync(node20));

    // The operator cuts the node off: revoke its token, remove the node. It registers again, is refused, stops.
    expect((await admin('DELETE', `/node-tokens/${token.id}`)).status).toBe(200);
    const nodes = (await (await admin('GET', '/nodes')).json()) as {
      data: Array<{ id: string; name: string }>;
    };
    const nodeId = nodes.data.find((node) => node.name === 'owner-node20')!.id;
    expect((await admin('DELETE', `/nodes/${nodeId}`)).status).toBe(200);
    expect(await agent!.exited).toBe(3);
    expect(agent!.output.stderr).toContain('refused the node token (401 invalid_node_token)');
    expect(await servedModels()).not.toContain(model);
  });

  it('runs as one file on Node 22: registers, serves, and deregisters on SIGTERM', async () => {
    const dir = makeTempDir('owner-node22');
    const file = join(dir, 'gpu-node.mjs');
    copyFileSync(built.bundle, file);
    const [token, proxyPort] = [await nodeToken('owner-node22'), await freePort()];
    const model = 'owner-sim-22';
    const env = { PATH: '/usr/bin:/bin', HOME: dir };
    const init = await run(
      process.execPath,
      [
        file,
        'init',
        ...['--gateway', system.gatewayUrl, '--token', token.token, '--engine', `sim=${model}`],
        ...['--name', 'owner-node22', '--listen', `127.0.0.1:${proxyPort}`],
        ...['--public-url', `http://127.0.0.1:${proxyPort}`],
      ],
      { cwd: dir, env },
    );
    expect(init).toMatchObject({ code: 0 });
    const agent = background(
      process.execPath,
      [file, 'start', '--metrics-listen', String(await freePort())],
      {
        cwd: dir,
        env,
      },
    );
    await waitFor(`the gateway to list ${model}`, async () => (await servedModels()).includes(model), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    expect(await chat(model)).toBeTruthy();
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(await servedModels()).not.toContain(model);
    expect(isAlive(agent.child.pid!)).toBe(false);
  });

  it('check fails, saying why, on a revoked or unknown token and on an unreachable gateway', async () => {
    const dir = makeTempDir('owner-check');
    const revoked = await nodeToken('owner-revoked');
    expect((await admin('DELETE', `/node-tokens/${revoked.id}`)).status).toBe(200);
    const unknown = `snt-unknown0.${'0123456789abcdef'.repeat(3)}`;
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const check = async (name: string, gateway: string, token: string) => {
      const cwd = join(dir, name);
      const env = { PATH: '/usr/bin:/bin', HOME: dir };
      mkdirSync(cwd);
      const flags = [
        '--gateway',
        gateway,
        '--token',
        token,
        '--engine',
        'sim=x',
        '--public-url',
        'http://127.0.0.1:1',
      ];
      expect(await run(process.execPath, [built.bundle, 'init', ...flags], { cwd, env })).toMatchObject({
        code: 0,
      });
      return run(process.execPath, [built.bundle, 'check', '--metrics-listen', 'off'], { cwd, env });
    };
    const [revokedRun, unknownRun, unreachableRun] = await Promise.all([
      check('revoked', system.gatewayUrl, revoked.token),
      check('unknown', system.gatewayUrl, unknown),
      check('unreachable', nowhere, unknown),
    ]);
    for (const result of [revokedRun, unknownRun]) {
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        /^error\s+the gateway at \S+ refused the node token \(401 invalid_node_token\)/m,
      );
    }
    expect(unreachableRun.code).toBe(1);
    expect(unreachableRun.stdout).toMatch(
      /^error\s+cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+\/nodes\/register\/dry-run/m,
    );
  });
});
