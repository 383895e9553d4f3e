/**
 * V8 CPU profiles: taking one from workerd over the Chrome DevTools protocol (workerd serves it
 * on `--inspector-addr`; Node 22's global WebSocket speaks it), and reading one (that, or a
 * `node --cpu-prof` file) into self time per function, per source module and per category.
 */
import fs from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A Chrome DevTools protocol session with one target. */
export class Cdp {
  private readonly socket: WebSocket;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
      };
      const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id!);
      if (message.error) waiter.reject(new Error(message.error.message));
      else waiter.resolve(message.result);
    });
  }

  /** The first target listed at `http://<inspectorAddress>/json/list`. */
  static async connect(inspectorAddress: string): Promise<Cdp> {
    const targets = (await (await fetch(`http://${inspectorAddress}/json/list`)).json()) as Array<{
      webSocketDebuggerUrl: string;
    }>;
    if (targets.length === 0) throw new Error(`no inspector target at ${inspectorAddress}`);
    const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new Error('inspector WebSocket failed')), { once: true });
    });
    return new Cdp(socket);
  }

  send<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** Profiles whatever runs in the target while `during` runs. */
export async function profileDuring(
  cdp: Cdp,
  intervalUs: number,
  during: () => Promise<void>,
): Promise<CpuProfile> {
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: intervalUs });
  await cdp.send('Profiler.start');
  await during();
  const { profile } = await cdp.send<{ profile: CpuProfile }>('Profiler.stop');
  return profile;
}

export interface SelfTime {
  name: string;
  /** Where the function lives: a source module of the bundle, a file, or `(native)`. */
  module: string;
  ms: number;
}

/**
 * Self time per function. A sample's time is the gap to the next sample: wall-clock time, so a
 * process that waits for a core on a busy machine shows that wait in whatever was running.
 * `moduleOf` turns a frame's url and line into a source module (for a bundle: the module whose
 * section holds it). `window` keeps only samples within it (the profile's own µs clock).
 */
export function selfTimes(
  profile: CpuProfile,
  moduleOf: (frame: CallFrame) => string,
  window?: { from: number; to: number },
): SelfTime[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const micros = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (window && (at < window.from || at > window.to)) continue;
    const next = deltas[i + 1] ?? 0;
    micros.set(samples[i]!, (micros.get(samples[i]!) ?? 0) + next);
  }
  const merged = new Map<string, SelfTime>();
  for (const [id, us] of micros) {
    const frame = byId.get(id)!.callFrame;
    const module = moduleOf(frame);
    const name = frame.functionName || '(anonymous)';
    const key = `${name}@${module}:${module.startsWith('(') ? '' : frame.lineNumber}`;
    const entry = merged.get(key) ?? { name, module, ms: 0 };
    entry.ms += us / 1000;
    merged.set(key, entry);
  }
  return [...merged.values()].sort((a, b) => b.ms - a.ms);
}

/**
 * For a bundle written by wrangler (esbuild, unminified): the line ranges of each source module,
 * from the `// <path>` line that opens each one.
 */
export function bundleModuleMap(bundleFile: string): (frame: CallFrame) => string {
  const starts: Array<{ line: number; module: string }> = [];
  fs.readFileSync(bundleFile, 'utf8')
    .split('\n')
    .forEach((text, line) => {
      const module = /^\/\/ ((?:node_modules|src|workers)\/\S+\.(?:[cm]?js|tsx?|json))$/.exec(text)?.[1];
      if (module) starts.push({ line, module });
    });
  return (frame) => {
    if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
    let low = 0;
    let high = starts.length - 1;
    let found = '(bundle glue)';
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (starts[mid]!.line <= frame.lineNumber) {
        found = starts[mid]!.module;
        low = mid + 1;
      } else high = mid - 1;
    }
    return found;
  };
}

/** For a Node process: the file, relative to the repository, or node's own module. */
export function fileModuleMap(root: string): (frame: CallFrame) => string {
  return (frame) => {
    if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
    const url = frame.url.replace(/^file:\/\//, '');
    return url.startsWith(`${root}/`) ? url.slice(root.length + 1) : url;
  };
}

/** Sums self time by a key (module, package, category). */
export function groupBy(times: SelfTime[], key: (t: SelfTime) => string): Array<{ key: string; ms: number }> {
  const totals = new Map<string, number>();
  for (const t of times) totals.set(key(t), (totals.get(key(t)) ?? 0) + t.ms);
  return [...totals].map(([k, ms]) => ({ key: k, ms })).sort((a, b) => b.ms - a.ms);
}
