/**
 * Tiny engine stand-ins for supervisor tests: real child processes written to a temp dir,
 * launched by a minimal adapter that probes `GET /health`. Behaviour is steered by env vars
 * and marker files, so each test reads as "an engine that does X".
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { EngineAdapter, EngineConfig } from '../../gpu-node/engines/engine-adapter.ts';

/**
 * Env: PORT; SPAWN_LOG (append a line per start); CRASH_ONCE_MARKER (exit 3 shortly after
 * becoming ready, but only if the marker does not exist yet); EXIT_AT_ONCE (exit 1 before
 * listening); SICK_MARKER (health answers 503 while it exists); CHILD_PID_FILE (fork a
 * grandchild in the same group that ignores SIGTERM, and record its pid).
 */
const ENGINE_SCRIPT = `
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
const env = process.env;
if (env.SPAWN_LOG) appendFileSync(env.SPAWN_LOG, process.pid + '\\n');
console.log('engine booting');
if (env.EXIT_AT_ONCE) { console.error('cannot load weights'); process.exit(1); }
if (env.CHILD_PID_FILE) {
  const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
  writeFileSync(env.CHILD_PID_FILE, String(child.pid));
}
const server = http.createServer((req, res) => {
  if (req.url === '/health') res.writeHead(env.SICK_MARKER && existsSync(env.SICK_MARKER) ? 503 : 200).end('ok');
  else res.writeHead(404).end();
});
server.listen(Number(env.PORT), '127.0.0.1', () => {
  console.log('engine listening');
  if (env.CRASH_ONCE_MARKER && !existsSync(env.CRASH_ONCE_MARKER)) {
    writeFileSync(env.CRASH_ONCE_MARKER, 'crashed');
    setTimeout(() => process.exit(3), 150);
  }
});
process.on('SIGTERM', () => process.exit(0));
`;

const tempDirs: string[] = [];

export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `switchyard-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

/** For `afterAll`: removes every directory makeTempDir made in this test file. */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function writeEngineScript(dir: string): string {
  const path = join(dir, 'engine.mjs');
  writeFileSync(path, ENGINE_SCRIPT);
  return path;
}

export function scriptAdapter(scriptPath: string): EngineAdapter {
  return {
    kind: 'sim',
    binary: process.execPath,
    launchCommand(engine) {
      return {
        command: process.execPath,
        args: [scriptPath],
        env: { ...engine.env, PORT: String(engine.port) },
      };
    },
    async probeReady(baseUrl, _engine, _apiKey, signal) {
      const response = await fetch(`${baseUrl}/health`, { signal });
      await response.body?.cancel();
      return response.ok;
    },
    async scrapeLoad() {
      return { running: 0, waiting: 0, kvCacheUsage: 0 };
    },
  };
}

export function engineConfig(port: number, env: Record<string, string>): EngineConfig {
  return {
    id: 'e1',
    kind: 'sim',
    model: 'm',
    servedModelName: 'm',
    port,
    gpus: [],
    args: [],
    env,
    maxConcurrency: 4,
  };
}

export const silentLogger = pino({ level: 'silent' });
