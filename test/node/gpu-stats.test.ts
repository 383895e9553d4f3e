import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuStatsCache, NVIDIA_SMI_ARGS, parseNvidiaSmiCsv, readGpuStats } from '../../gpu-node/gpu-stats.ts';
import { waitFor } from '../support/wait-for.ts';

function recorded(name: string): string {
  return readFileSync(new URL(`../fixtures/nvidia-smi/${name}`, import.meta.url), 'utf8');
}

describe('parseNvidiaSmiCsv', () => {
  it('reads one GpuStat per line', () => {
    expect(parseNvidiaSmiCsv(recorded('a100x2.csv'))).toEqual([
      {
        index: 0,
        uuid: 'GPU-4d7f5c3e-7a0b-4c2d-9e8f-0123456789ab',
        name: 'NVIDIA A100-SXM4-80GB',
        memoryUsedMiB: 70321,
        memoryTotalMiB: 81920,
        utilizationPct: 87,
        temperatureC: 61,
      },
      {
        index: 1,
        uuid: 'GPU-9b1e2f3a-5c6d-4e7f-8a9b-abcdef012345',
        name: 'NVIDIA A100-SXM4-80GB',
        memoryUsedMiB: 4,
        memoryTotalMiB: 81920,
        utilizationPct: 0,
        temperatureC: 34,
      },
    ]);
  });

  it('turns [N/A] into null', () => {
    expect(parseNvidiaSmiCsv(recorded('gb10-unified-memory.csv'))).toEqual([
      expect.objectContaining({
        name: 'NVIDIA GB10',
        memoryUsedMiB: null,
        memoryTotalMiB: null,
        utilizationPct: 12,
      }),
    ]);
  });

  it('turns [Not Supported] and [Unknown Error] into null', () => {
    expect(parseNvidiaSmiCsv(recorded('rtx3090-not-supported.csv'))).toEqual([
      expect.objectContaining({
        memoryUsedMiB: 1184,
        memoryTotalMiB: 24576,
        utilizationPct: null,
        temperatureC: null,
      }),
    ]);
  });

  it('keeps a name that contains commas whole', () => {
    const [gpu] = parseNvidiaSmiCsv('3, GPU-x, Tesla K80, rev 2, 10, 11441, 5, 40\n');
    expect(gpu).toMatchObject({ index: 3, uuid: 'GPU-x', name: 'Tesla K80, rev 2', memoryUsedMiB: 10 });
  });

  it('skips lines that are not GPUs', () => {
    expect(parseNvidiaSmiCsv(recorded('driver-missing.txt'))).toEqual([]);
    expect(parseNvidiaSmiCsv('\n\nx, GPU-a, Name, 1, 2, 3, 4\n')).toEqual([]);
  });
});

describe('readGpuStats', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-smi-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A stand-in nvidia-smi: checks it was asked the right query, then behaves as `body` says. */
  async function fakeSmi(name: string, body: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(
      path,
      `#!/bin/sh\n[ "$1 $2" = "${NVIDIA_SMI_ARGS.join(' ')}" ] || { echo "bad args: $*" >&2; exit 64; }\n${body}\n`,
    );
    await chmod(path, 0o755);
    return path;
  }

  it('runs nvidia-smi with the query and parses what it prints', async () => {
    const fixture = fileURLToPath(new URL('../fixtures/nvidia-smi/a100x2.csv', import.meta.url));
    const smi = await fakeSmi('smi-ok', `cat '${fixture}'`);
    const stats = await readGpuStats({ command: smi });
    expect(stats.map((gpu) => gpu.index)).toEqual([0, 1]);
  });

  it('reports no GPUs when nvidia-smi is absent', async () => {
    await expect(readGpuStats({ command: join(dir, 'no-such-nvidia-smi') })).resolves.toEqual([]);
  });

  it('reports no GPUs when nvidia-smi fails, as it does without a driver', async () => {
    const smi = await fakeSmi('smi-no-driver', `echo "NVIDIA-SMI has failed"; exit 9`);
    await expect(readGpuStats({ command: smi })).resolves.toEqual([]);
  });

  it('gives up on an nvidia-smi that hangs', async () => {
    const smi = await fakeSmi('smi-hangs', 'exec sleep 30');
    const started = Date.now();
    await expect(readGpuStats({ command: smi, timeoutMs: 200 })).resolves.toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('GpuStatsCache', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-smi-cache-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A stand-in nvidia-smi that notes each run in `runs` and prints one GPU. */
  async function countingSmi(path: string, runs: string): Promise<void> {
    await writeFile(path, `#!/bin/sh\necho run >> '${runs}'\necho "0, GPU-a, A100, 1, 2, 3, 4"\n`);
    await chmod(path, 0o755);
  }
  const countRuns = async (runs: string) =>
    (await readFile(runs, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

  it('runs nvidia-smi once per period, however often it is asked', async () => {
    const [smi, runs] = [join(dir, 'smi-counting'), join(dir, 'runs')];
    await countingSmi(smi, runs);
    const cache = new GpuStatsCache({ command: smi, maxAgeMs: 300 });
    const first = await Promise.all([cache.read(), cache.read()]);
    expect(first.map((stats) => stats.length)).toEqual([1, 1]);
    expect((await cache.read())[0]!.uuid).toBe('GPU-a');
    expect(await countRuns(runs)).toBe(1);
    await waitFor('a second run once the period is over', async () => {
      await cache.read();
      return (await countRuns(runs)) === 2;
    });
  });

  it('stops looking for an nvidia-smi that does not exist', async () => {
    const [smi, runs] = [join(dir, 'smi-later'), join(dir, 'runs-later')];
    const cache = new GpuStatsCache({ command: smi, maxAgeMs: 0 });
    expect(await cache.read()).toEqual([]);
    await countingSmi(smi, runs);
    expect(await cache.read()).toEqual([]);
    expect(await countRuns(runs)).toBe(0);
  });
});
