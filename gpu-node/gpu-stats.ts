/**
 * GPU figures for the heartbeat, read from `nvidia-smi`. A node without NVIDIA GPUs (or without
 * a working driver) reports none rather than failing: the engines' own health is what routes.
 */
import { execFile } from 'node:child_process';
import type { GpuStat } from '../src/protocol/node-api.ts';

export const NVIDIA_SMI_ARGS = [
  '--query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu,temperature.gpu',
  '--format=csv,noheader,nounits',
] as const;

/** Fields nvidia-smi could not fill read `[N/A]`, `[Not Supported]`, `[Unknown Error]` and the like. */
function numberOrNull(field: string): number | null {
  if (field === '' || field.startsWith('[') || field === 'N/A') return null;
  const value = Number(field);
  return Number.isFinite(value) ? value : null;
}

/**
 * Parses the CSV the query above prints, one GPU a line. Lines that are not a GPU (a driver
 * error message, a truncated line) are skipped. Names may contain commas, so the name is
 * whatever lies between the two leading and the four trailing fields.
 */
export function parseNvidiaSmiCsv(text: string): GpuStat[] {
  const stats: GpuStat[] = [];
  for (const line of text.split(/\r?\n/)) {
    const fields = line.split(',').map((field) => field.trim());
    if (fields.length < 7) continue;
    const [indexField = '', uuid = ''] = fields;
    const [used = '', total = '', utilization = '', temperature = ''] = fields.slice(-4);
    const index = Number(indexField);
    if (indexField === '' || !Number.isInteger(index) || index < 0) continue;
    stats.push({
      index,
      uuid,
      name: fields.slice(2, -4).join(', '),
      memoryUsedMiB: numberOrNull(used),
      memoryTotalMiB: numberOrNull(total),
      utilizationPct: numberOrNull(utilization),
      temperatureC: numberOrNull(temperature),
    });
  }
  return stats;
}

export interface ReadGpuStatsOptions {
  /** The nvidia-smi to run; a test points this at a recorded-output script. */
  command?: string;
  /** nvidia-smi can hang on a wedged driver; the heartbeat must not. */
  timeoutMs?: number;
}

/** The GPUs nvidia-smi reports; empty when it is absent, fails, or takes too long. */
export async function readGpuStats(options: ReadGpuStatsOptions = {}): Promise<GpuStat[]> {
  return (await runNvidiaSmi(options)).stats;
}

function runNvidiaSmi(options: ReadGpuStatsOptions): Promise<{ stats: GpuStat[]; absent: boolean }> {
  const { command = 'nvidia-smi', timeoutMs = 5_000 } = options;
  return new Promise((resolve) => {
    execFile(command, NVIDIA_SMI_ARGS, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout) => {
      const absent = (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
      resolve({ stats: error ? [] : parseNvidiaSmiCsv(stdout), absent });
    });
  });
}

/**
 * The heartbeat's GPU figures, read at most once per `maxAgeMs`. Running nvidia-smi costs tens
 * of milliseconds of CPU with a real driver, and spawning anything forks the agent, a pause of
 * the proxy that grows with its memory: once per heartbeat it was the idle agent's largest cost.
 * Where there is no nvidia-smi at all it is not looked for again.
 */
export class GpuStatsCache {
  readonly #options: ReadGpuStatsOptions;
  readonly #maxAgeMs: number;
  #last: { at: number; stats: Promise<GpuStat[]> } | null = null;
  #absent = false;

  constructor(options: ReadGpuStatsOptions & { maxAgeMs?: number } = {}) {
    const { maxAgeMs = 10_000, ...read } = options;
    this.#options = read;
    this.#maxAgeMs = maxAgeMs;
  }

  read(): Promise<GpuStat[]> {
    if (this.#absent) return Promise.resolve([]);
    const now = performance.now();
    if (this.#last && now - this.#last.at < this.#maxAgeMs) return this.#last.stats;
    const stats = runNvidiaSmi(this.#options).then((result) => {
      this.#absent = result.absent;
      return result.stats;
    });
    this.#last = { at: now, stats };
    return stats;
  }
}
