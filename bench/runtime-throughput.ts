/**
 * Which runtime should serve the gateway on one machine? The same Hono proxy route, bundled
 * once by wrangler, under plain workerd (what `npm start` runs), Miniflare, and `wrangler dev`,
 * each forwarding POST /v1/chat/completions to an instant local HTTP server. Prints req/s and
 * p99 at 1 and 64 connections, with each figure's ratio to the direct baseline from this run.
 *
 *   npx node bench/runtime-throughput.ts [--seconds 5]
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { bundleWorker } from '../scripts/bundle.ts';
import { freePort } from '../gpu-node/index.ts';
import { generateWorkerdConfig } from '../scripts/workerd-config.ts';
import { startWorkerd, workerdPackage } from '../scripts/workerd-process.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' } } });
const seconds = Number(values.seconds);
const root = path.resolve(import.meta.dirname, '..');
const COMPLETION = JSON.stringify({
  id: 'cmpl-1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
});
const REQUEST = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] });

const WORKER = `import { Hono } from 'hono';
const app = new Hono();
app.post('/v1/*', async (c) => {
  const upstream = await fetch(c.env.UPSTREAM_URL + c.req.path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer node-credential' },
    body: c.req.raw.body,
  });
  return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
});
export default app;
`;

async function measure(url: string, connections: number): Promise<{ rps: number; p99: number }> {
  const result = await autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: REQUEST,
    connections,
    duration: seconds,
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  }
  return { rps: result.requests.average, p99: result.latency.p99 };
}

const upstream = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(COMPLETION));
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-throughput-'));
fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
fs.mkdirSync(path.join(dir, 'src'));
fs.writeFileSync(path.join(dir, 'src', 'index.ts'), WORKER);
const wranglerToml = `name = "proxy-bench"\nmain = "src/index.ts"\ncompatibility_date = "2026-11-01"\n[vars]\nUPSTREAM_URL = "${upstreamUrl}"\n`;
fs.writeFileSync(path.join(dir, 'wrangler.toml'), wranglerToml);
const bundle = await bundleWorker(dir, path.join(dir, 'bundle'), 'src/index.ts');

const rows: Array<{ runtime: string; c1: { rps: number; p99: number }; c64: { rps: number; p99: number } }> =
  [];
async function run(runtime: string, url: string): Promise<void> {
  await measure(url, 8); // warm-up: JIT, isolate, connection pools
  rows.push({ runtime, c1: await measure(url, 1), c64: await measure(url, 64) });
  const last = rows.at(-1);
  console.error(
    `${runtime}: ${last?.c1.rps.toFixed(0)} / ${last?.c64.rps.toFixed(0)} req/s at 1 / 64 connections`,
  );
}

try {
  await run('direct (no gateway)', upstreamUrl);

  fs.writeFileSync(
    path.join(dir, 'workerd.capnp'),
    generateWorkerdConfig({
      wranglerToml,
      configDir: dir,
      bundleDir: bundle.dir,
      modules: bundle.modules,
      doStorageDir: path.join(dir, 'do'),
      address: '127.0.0.1:0',
      env: {},
      secretNames: [],
      maxCompatibilityDate: workerdPackage().compatibilityDate,
    }),
  );
  const workerd = await startWorkerd({
    configPath: path.join(dir, 'workerd.capnp'),
    cwd: dir,
    env: process.env,
    logFile: path.join(dir, 'workerd.log'),
  });
  await run('plain workerd (npm start)', `http://127.0.0.1:${workerd.port}`);
  await workerd.child.stop(2000);

  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      modulesRoot: bundle.dir,
      scriptPath: path.join(bundle.dir, bundle.modules[0] ?? 'index.js'),
      compatibilityDate: '2026-11-01',
      bindings: { UPSTREAM_URL: upstreamUrl },
      host: '127.0.0.1',
      port: 0,
    }),
  );
  await run('Miniflare', (await miniflare.ready).origin);
  await miniflare.dispose();

  const port = await freePort();
  const wrangler = spawn(
    process.execPath,
    [path.join(dir, 'node_modules', '.bin', 'wrangler'), 'dev', '--ip', '127.0.0.1', '--port', String(port)],
    { cwd: dir, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, stdio: 'ignore', detached: true },
  );
  const wranglerUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${wranglerUrl}/v1/x`, { method: 'POST', body: '{}' }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await sleep(100);
  }
  await run('wrangler dev', wranglerUrl);
  // Stop its whole group (wrangler, its workerd) and wait, so nothing outlives the bench.
  const exited = new Promise((resolve) => wrangler.once('exit', resolve));
  process.kill(-(wrangler.pid ?? 0), 'SIGTERM');
  if ((await Promise.race([exited, sleep(5000).then(() => 'timeout')])) === 'timeout') {
    process.kill(-(wrangler.pid ?? 0), 'SIGKILL');
  }
} finally {
  upstream.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

const base = rows[0];
const fmt = (rps: number, baseline: number) =>
  `${(rps / 1000).toFixed(2)}k (${((rps / baseline) * 100).toFixed(1)}%)`;
console.log(
  `\nHono proxy route to an instant local server; autocannon ${seconds} s per figure, ${os.cpus().length} cores`,
);
console.log(
  'runtime                      | req/s at 1 conn (of direct) | p99 ms | req/s at 64 conns (of direct) | p99 ms',
);
for (const row of rows) {
  console.log(
    [
      row.runtime.padEnd(28),
      fmt(row.c1.rps, base?.c1.rps ?? 1).padEnd(27),
      String(row.c1.p99).padEnd(6),
      fmt(row.c64.rps, base?.c64.rps ?? 1).padEnd(29),
      String(row.c64.p99),
    ].join(' | '),
  );
}
process.exit(0);
