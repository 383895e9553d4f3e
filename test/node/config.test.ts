import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, exampleConfig, loadAgentConfig, parseAgentConfig } from '../../gpu-node/config.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** The problems a config is rejected for, or a failure when it is accepted. */
function problemsOf(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseAgentConfig(raw, { env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

const minimal = {
  gateway: { url: 'https://gw.example.com', nodeToken: 'nt-1' },
  node: { name: 'box', publicUrl: 'https://box.example.com:8100' },
  engines: [{ kind: 'vllm', model: 'Qwen/Qwen2.5-7B-Instruct', port: 8001 }],
};

describe('loadAgentConfig', () => {
  it('reads YAML and fills every default', async () => {
    const path = await writeConfig(
      'agent.yaml',
      [
        'gateway:',
        '  url: https://gw.example.com',
        '  nodeToken: nt-secret',
        'node:',
        '  name: box-1',
        '  publicUrl: https://box-1.example.com:8100',
        'engines:',
        '  - kind: vllm',
        '    model: Qwen/Qwen2.5-7B-Instruct',
        '    port: 8001',
        '  - kind: llamacpp',
        '    model: /models/q4.gguf',
        '    servedModelName: q4',
        '    port: 8002',
        '  - kind: sim',
        '    id: sim-a',
        '    model: sim-model',
        '    port: 8003',
        '    gpus: [1]',
        '    args: [--time-scale, "0.1"]',
        '    env: { SIM_TRACE: "1" }',
        '    maxConcurrency: 3',
      ].join('\n'),
    );
    await expect(loadAgentConfig(path, {})).resolves.toEqual({
      gateway: { url: 'https://gw.example.com', nodeToken: 'nt-secret' },
      node: {
        name: 'box-1',
        listen: { host: '0.0.0.0', port: 8100 },
        publicUrl: 'https://box-1.example.com:8100',
      },
      drainTimeoutMs: 60_000,
      engineHealth: {
        intervalMs: 2_000,
        timeoutMs: 5_000,
        unhealthyAfterFailures: 3,
        hungAfterSilentMs: 30_000,
      },
      logDir: join(dir, 'gpu-node-logs'),
      stateFile: join(dir, 'gpu-node.state.json'),
      engines: [
        {
          id: 'Qwen-Qwen2.5-7B-Instruct',
          kind: 'vllm',
          model: 'Qwen/Qwen2.5-7B-Instruct',
          servedModelName: 'Qwen/Qwen2.5-7B-Instruct',
          port: 8001,
          gpus: [],
          args: [],
          env: {},
          maxConcurrency: 256,
        },
        {
          id: 'q4',
          kind: 'llamacpp',
          model: '/models/q4.gguf',
          servedModelName: 'q4',
          port: 8002,
          gpus: [],
          args: [],
          env: {},
          maxConcurrency: 4,
        },
        {
          id: 'sim-a',
          kind: 'sim',
          model: 'sim-model',
          servedModelName: 'sim-model',
          port: 8003,
          gpus: [1],
          args: ['--time-scale', '0.1'],
          env: { SIM_TRACE: '1' },
          maxConcurrency: 3,
        },
      ],
    });
  });

  it('reads a .json file as JSON and keeps explicit values', async () => {
    const path = await writeConfig(
      'agent.json',
      JSON.stringify({
        ...minimal,
        node: { ...minimal.node, listen: { host: '127.0.0.1', port: 9100 } },
        heartbeatIntervalMs: 2000,
        drainTimeoutMs: 0,
        engineHealth: { timeoutMs: 20_000, hungAfterSilentMs: 120_000 },
        logDir: '/var/log/gpu-node',
      }),
    );
    const config = await loadAgentConfig(path, {});
    expect(config.node.listen).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(config.heartbeatIntervalMs).toBe(2000);
    expect(config.drainTimeoutMs).toBe(0);
    expect(config.engineHealth).toEqual({
      intervalMs: 2_000,
      timeoutMs: 20_000,
      unhealthyAfterFailures: 3,
      hungAfterSilentMs: 120_000,
    });
    expect(config.logDir).toBe('/var/log/gpu-node');
  });

  it('reads the node token from the variable nodeTokenEnv names', async () => {
    const path = await writeConfig(
      'env.yaml',
      JSON.stringify({
        ...minimal,
        gateway: { url: 'http://gw.local', nodeTokenEnv: 'SWITCHYARD_NODE_TOKEN' },
      }),
    );
    const config = await loadAgentConfig(path, { SWITCHYARD_NODE_TOKEN: 'nt-from-env' });
    expect(config.gateway).toEqual({ url: 'http://gw.local', nodeToken: 'nt-from-env' });
    await expect(loadAgentConfig(path, {})).rejects.toThrow(
      'gateway.nodeTokenEnv: environment variable SWITCHYARD_NODE_TOKEN is not set',
    );
  });

  it('gives an external engine the API key its apiKeyEnv names, and refuses it on launched engines', () => {
    const external = { kind: 'external', model: 'llama3', port: 11434, apiKeyEnv: 'OLLAMA_KEY' };
    const withKey = parseAgentConfig({ ...minimal, engines: [external] }, { env: { OLLAMA_KEY: 'k-123' } });
    expect(withKey.engines[0]!.apiKey).toBe('k-123');
    expect(() => parseAgentConfig({ ...minimal, engines: [external] }, { env: {} })).toThrow(ConfigError);
    const launched = { kind: 'vllm', model: 'm', port: 8001, apiKeyEnv: 'OLLAMA_KEY' };
    const error = (() => {
      try {
        parseAgentConfig({ ...minimal, engines: [launched] }, { env: { OLLAMA_KEY: 'k' } });
      } catch (caught) {
        return caught as ConfigError;
      }
    })();
    expect(error?.problems.join('\n')).toContain('engines[0].apiKeyEnv: only an external engine');
  });

  it('throws ConfigError with the cause when the file cannot be read', async () => {
    const error = await loadAgentConfig(join(dir, 'absent.yaml'), {}).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ message: expect.stringContaining('cannot read config file') });
    expect((error as ConfigError).cause).toMatchObject({ code: 'ENOENT' });
  });

  it('throws ConfigError naming the line when the YAML is malformed', async () => {
    const path = await writeConfig('broken.yaml', 'gateway:\n  url: [unclosed\nnode: {}\n');
    await expect(loadAgentConfig(path, {})).rejects.toThrow(
      /cannot parse config file .*broken\.yaml: .*line/,
    );
  });

  it('loads the documented example config', async () => {
    const config = await loadAgentConfig(await writeConfig('example.yaml', exampleConfig), {});
    expect(config.engines.map((engine) => engine.kind)).toEqual(['vllm']);
    expect(config.node.listen.port).toBe(8100);
  });
});

describe('validation messages', () => {
  it('lists every problem with its path at once', () => {
    expect(
      problemsOf({
        gateway: { url: 'ftp://gw.example.com', nodeToken: 'nt' },
        node: { name: 'box' },
        engines: [
          { kind: 'vllm', model: 'm', port: 8001 },
          { kind: 'tgi', model: 'm', port: '80a' },
        ],
      }),
    ).toEqual([
      'gateway.url: expected an http:// or https:// URL',
      'node.publicUrl: required',
      'engines[1].kind: Invalid option: expected one of "vllm"|"sglang"|"lmdeploy"|"llamacpp"|"external"|"sim"',
      'engines[1].port: expected a number, got "80a"',
    ]);
  });

  it('rejects unknown keys, so a misspelt field is not silently ignored', () => {
    expect(problemsOf({ ...minimal, engines: [{ ...minimal.engines[0], maxConcurency: 8 }] })).toEqual([
      'engines[0]: Unrecognized key: "maxConcurency"',
    ]);
  });

  it('requires at least one engine', () => {
    expect(problemsOf({ ...minimal, engines: [] })).toEqual(['engines: list at least one engine']);
  });

  it('rejects engine ids the protocol cannot carry', () => {
    expect(problemsOf({ ...minimal, engines: [{ ...minimal.engines[0], id: 'has space' }] })).toEqual([
      expect.stringMatching(/^engines\[0\]\.id: /),
    ]);
  });

  it('rejects duplicate ids and ports, and an engine port equal to the listen port', () => {
    expect(
      problemsOf({
        ...minimal,
        engines: [
          { kind: 'vllm', model: 'org/m', port: 8001 },
          { kind: 'sglang', model: 'org/m', port: 8001 },
          { kind: 'sim', id: 'sim', model: 's', port: 8100 },
        ],
      }),
    ).toEqual([
      'engines[1].id: "org-m" is also engines[0]\'s id; give each engine its own id',
      "engines[1].port: 8001 is also engines[0]'s port",
      "engines[2].port: 8100 is the agent's own node.listen.port",
    ]);
  });

  it('lets an external engine with a url share a port number, and refuses a url on a launched engine', () => {
    const external = { kind: 'external', id: 'ext', model: 'x', port: 8001, url: 'http://10.0.0.2:8001' };
    expect(
      parseAgentConfig({ ...minimal, engines: [minimal.engines[0], external] }, { env: {} }).engines[1],
    ).toEqual({
      ...external,
      servedModelName: 'x',
      gpus: [],
      args: [],
      env: {},
      maxConcurrency: 64,
    });
    expect(
      problemsOf({ ...minimal, engines: [{ ...minimal.engines[0], url: 'http://10.0.0.2:8001' }] }),
    ).toEqual(['engines[0].url: only an external engine has a url; this one is launched on 127.0.0.1:port']);
  });

  it('wants exactly one of nodeToken and nodeTokenEnv', () => {
    expect(problemsOf({ ...minimal, gateway: { url: 'https://gw.example.com' } })).toEqual([
      'gateway.nodeToken: required (or nodeTokenEnv: NAME to read it from the environment)',
    ]);
    expect(
      problemsOf({
        ...minimal,
        gateway: { url: 'https://gw.example.com', nodeToken: 'a', nodeTokenEnv: 'B' },
      }),
    ).toEqual(['gateway: set nodeToken or nodeTokenEnv, not both']);
  });

  it('puts every problem in the error message, one per line', () => {
    const error = (() => {
      try {
        return parseAgentConfig({ ...minimal, drainTimeoutMs: -1, engines: [{ kind: 'vllm', model: 'm' }] });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      [
        'configuration is invalid:',
        '  drainTimeoutMs: Too small: expected number to be >=0',
        '  engines[0].port: required',
      ].join('\n'),
    );
  });
});
