import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI_PATH } from '../../gpu-node/cli-path.ts';
import type { EngineConfig } from '../../gpu-node/engines/engine-adapter.ts';
import { EngineScrapeError } from '../../gpu-node/engines/engine-http.ts';
import { adapterFor, engineBaseUrl } from '../../gpu-node/engines/index.ts';
import { kvShareFromSlots } from '../../gpu-node/engines/llamacpp.ts';
import { LMDEPLOY_LOAD_METRICS } from '../../gpu-node/engines/lmdeploy.ts';
import { parseMetricsPage, readLoad } from '../../gpu-node/engines/load-metrics.ts';
import { PYTHON_KEY_ENV } from '../../gpu-node/engines/python-launch.ts';
import { SGLANG_LOAD_METRICS, sglangTotalsOnly } from '../../gpu-node/engines/sglang.ts';
import { VLLM_LOAD_METRICS } from '../../gpu-node/engines/vllm.ts';

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/metrics/${name}`, import.meta.url), 'utf8');
}

function engine(overrides: Partial<EngineConfig>): EngineConfig {
  return {
    id: 'qwen',
    kind: 'vllm',
    model: 'Qwen/Qwen2.5-7B-Instruct',
    servedModelName: 'qwen-7b',
    port: 8001,
    gpus: [],
    args: [],
    env: {},
    maxConcurrency: 256,
    ...overrides,
  };
}

describe('reading load from recorded /metrics pages', () => {
  it('adds vLLM request counts across data-parallel ranks and averages their KV use', () => {
    expect(readLoad(parseMetricsPage(fixture('vllm.txt')), VLLM_LOAD_METRICS)).toEqual({
      running: 12,
      waiting: 3,
      kvCacheUsage: 0.375,
    });
  });

  it('falls back to vllm:gpu_cache_usage_perc on vLLM releases before the rename', () => {
    expect(readLoad(parseMetricsPage(fixture('vllm-legacy.txt')), VLLM_LOAD_METRICS)).toEqual({
      running: 4,
      waiting: 2,
      kvCacheUsage: 0.8125,
    });
  });

  it('reads SGLang running, queued and token usage', () => {
    expect(readLoad(parseMetricsPage(fixture('sglang.txt')), SGLANG_LOAD_METRICS, sglangTotalsOnly)).toEqual({
      running: 24,
      waiting: 3,
      kvCacheUsage: 0.73,
    });
  });

  it('counts only the totals when SGLang also breaks its gauges down by priority', () => {
    const families = parseMetricsPage(fixture('sglang-priority.txt'));
    expect(readLoad(families, SGLANG_LOAD_METRICS, sglangTotalsOnly)).toEqual({
      running: 10,
      waiting: 5,
      kvCacheUsage: 0.5,
    });
  });

  it('reads LMDeploy running, waiting and GPU cache usage', () => {
    expect(readLoad(parseMetricsPage(fixture('lmdeploy.txt')), LMDEPLOY_LOAD_METRICS)).toEqual({
      running: 6,
      waiting: 1,
      kvCacheUsage: 0.52,
    });
  });

  it("computes llama.cpp's KV share from /slots: tokens held over the slots' context", () => {
    expect(kvShareFromSlots(JSON.parse(fixture('llamacpp-slots.json')))).toBe(0.1875);
  });

  it('clamps a KV share an engine reports above 1', () => {
    const page = fixture('lmdeploy.txt').replace(
      'gpu_cache_usage_perc{engine="0",model_name="internlm/internlm2_5-7b-chat"} 0.52',
      'gpu_cache_usage_perc{engine="0",model_name="internlm/internlm2_5-7b-chat"} 1.0000001',
    );
    expect(readLoad(parseMetricsPage(page), LMDEPLOY_LOAD_METRICS).kvCacheUsage).toBe(1);
  });

  it('throws metric_missing naming the gauge when a page lacks it', () => {
    const page = fixture('vllm.txt')
      .split('\n')
      .filter((line) => !line.includes('vllm:num_requests_waiting'))
      .join('\n');
    expect(() => readLoad(parseMetricsPage(page), VLLM_LOAD_METRICS)).toThrow(
      expect.objectContaining({
        code: 'metric_missing',
        message: expect.stringContaining('vllm:num_requests_waiting'),
      }),
    );
  });

  it('throws metric_missing when no KV gauge of any known name is present', () => {
    const page = fixture('vllm-legacy.txt').replaceAll('vllm:gpu_cache_usage_perc', 'vllm:something_else');
    expect(() => readLoad(parseMetricsPage(page), VLLM_LOAD_METRICS)).toThrow(
      /none of vllm:kv_cache_usage_perc, vllm:gpu_cache_usage_perc/,
    );
  });

  it('treats a gauge declared by # TYPE but without samples as missing', () => {
    const page = '# TYPE sglang:num_running_reqs gauge\nsglang:num_queue_reqs 1\nsglang:token_usage 0.1\n';
    expect(() => readLoad(parseMetricsPage(page), SGLANG_LOAD_METRICS)).toThrow(/sglang:num_running_reqs/);
  });

  it('rejects a page that is not Prometheus text as bad_payload', () => {
    expect(() => parseMetricsPage('vllm:num_requests_running{model_name="x" 1\n')).toThrow(
      expect.objectContaining({ code: 'bad_payload' }),
    );
  });

  it('rejects /slots answers that are not a list of slots', () => {
    expect(() => kvShareFromSlots({ error: 'slots endpoint is disabled' })).toThrow(
      expect.objectContaining({ code: 'bad_payload' }),
    );
    expect(() => kvShareFromSlots([])).toThrow(EngineScrapeError);
  });
});

describe('launch commands', () => {
  it('runs vllm serve on loopback with the served name, its key in VLLM_API_KEY', () => {
    expect(adapterFor('vllm').launchCommand(engine({}), 'k-1')).toEqual({
      command: 'vllm',
      args: [
        'serve',
        'Qwen/Qwen2.5-7B-Instruct',
        '--host',
        '127.0.0.1',
        '--port',
        '8001',
        '--served-model-name',
        'qwen-7b',
      ],
      env: { VLLM_API_KEY: 'k-1' },
    });
  });

  it('runs SGLang through python3 with metrics enabled, its key appended inside Python', () => {
    const command = adapterFor('sglang').launchCommand(engine({ kind: 'sglang' }), 'k-1')!;
    expect(command.command).toBe('python3');
    expect(command.args.slice(2)).toEqual([
      '--model-path',
      'Qwen/Qwen2.5-7B-Instruct',
      '--host',
      '127.0.0.1',
      '--port',
      '8001',
      '--served-model-name',
      'qwen-7b',
      '--enable-metrics',
    ]);
    expect(command.args.slice(0, 2)).toEqual(['-c', expect.stringContaining('"sglang.launch_server"')]);
    expect(command.args[1]).toContain('"--api-key"');
    expect(command.env).toEqual({ [PYTHON_KEY_ENV]: 'k-1' });
  });

  it('runs LMDeploy as python3 -m lmdeploy serve api_server, its keys appended inside Python', () => {
    const command = adapterFor('lmdeploy').launchCommand(engine({ kind: 'lmdeploy' }), 'k-1')!;
    expect(command.command).toBe('python3');
    expect(command.args.slice(2)).toEqual([
      'serve',
      'api_server',
      'Qwen/Qwen2.5-7B-Instruct',
      '--server-name',
      '127.0.0.1',
      '--server-port',
      '8001',
      '--model-name',
      'qwen-7b',
    ]);
    expect(command.args[1]).toContain('runpy.run_module("lmdeploy"');
    expect(command.args[1]).toContain('"--api-keys"');
    expect(command.env).toEqual({ [PYTHON_KEY_ENV]: 'k-1' });
  });

  it('runs llama-server with metrics and one slot per concurrent request, its key in LLAMA_API_KEY', () => {
    const llama = engine({ kind: 'llamacpp', model: '/models/q.gguf', maxConcurrency: 4 });
    expect(adapterFor('llamacpp').launchCommand(llama, 'k-1')).toEqual({
      command: 'llama-server',
      args: [
        '-m',
        '/models/q.gguf',
        '--host',
        '127.0.0.1',
        '--port',
        '8001',
        '--alias',
        'qwen-7b',
        '--metrics',
        '-np',
        '4',
      ],
      env: { LLAMA_API_KEY: 'k-1' },
    });
  });

  it("runs the simulator as `gpu-node sim` on the agent's node, with its engine id, batch slots and key", () => {
    expect(adapterFor('sim').launchCommand(engine({ kind: 'sim', id: 'sim-a', port: 8009 }), 'k-1')).toEqual({
      command: process.execPath,
      args: [
        CLI_PATH,
        'sim',
        '--port',
        '8009',
        '--served-model-name',
        'qwen-7b',
        '--engine-id',
        'sim-a',
        '--max-batch',
        '256',
      ],
      env: { VLLM_API_KEY: 'k-1' },
    });
    expect(CLI_PATH).toMatch(/\/gpu-node\/bin\/gpu-node\.js$/);
  });

  it('never puts the key in the arguments, whatever the kind', () => {
    for (const kind of ['vllm', 'sglang', 'lmdeploy', 'llamacpp', 'sim'] as const) {
      const command = adapterFor(kind).launchCommand(engine({ kind }), 'secret-key-1')!;
      expect([command.command, ...command.args].join(' ')).not.toContain('secret-key-1');
    }
  });

  it('appends args, replaces only the executable with command, pins gpus before env, and keeps the key last', () => {
    const custom = engine({
      command: '/opt/venv/bin/vllm',
      args: ['--max-model-len', '8192'],
      gpus: [2, 3],
      env: { HF_HOME: '/data/hf', VLLM_API_KEY: 'the owner cannot set this' },
    });
    expect(adapterFor('vllm').launchCommand(custom, 'k-1')).toEqual({
      command: '/opt/venv/bin/vllm',
      args: [
        'serve',
        'Qwen/Qwen2.5-7B-Instruct',
        '--host',
        '127.0.0.1',
        '--port',
        '8001',
        '--served-model-name',
        'qwen-7b',
        '--max-model-len',
        '8192',
      ],
      env: { CUDA_VISIBLE_DEVICES: '2,3', HF_HOME: '/data/hf', VLLM_API_KEY: 'k-1' },
    });
    const handPinned = engine({ gpus: [0], env: { CUDA_VISIBLE_DEVICES: '1' } });
    expect(adapterFor('vllm').launchCommand(handPinned, 'k')?.env).toEqual({
      CUDA_VISIBLE_DEVICES: '1',
      VLLM_API_KEY: 'k',
    });
  });

  it('launches nothing for an external engine and reaches it at its url or loopback port', () => {
    const external = engine({ kind: 'external', url: 'http://10.0.0.7:8000/' });
    expect(adapterFor('external').launchCommand(external, 'k-1')).toBeNull();
    expect(adapterFor('external').binary).toBeNull();
    expect(engineBaseUrl(external)).toBe('http://10.0.0.7:8000');
    expect(engineBaseUrl(engine({ kind: 'external', port: 11434 }))).toBe('http://127.0.0.1:11434');
    expect(engineBaseUrl(engine({ port: 8001 }))).toBe('http://127.0.0.1:8001');
  });

  it('names the binary gpu-node check looks for, and the module its Python must import', () => {
    expect(adapterFor('vllm').binary).toBe('vllm');
    expect(adapterFor('sglang')).toMatchObject({ binary: 'python3', pythonModule: 'sglang' });
    expect(adapterFor('lmdeploy')).toMatchObject({ binary: 'python3', pythonModule: 'lmdeploy' });
    expect(adapterFor('llamacpp').binary).toBe('llama-server');
    expect(adapterFor('sim').binary).toBe(process.execPath);
  });
});
