/**
 * The gateway with its Durable Objects counted (bench/scale/instrumented.ts), for the
 * benchmarks only: writes an entry that re-exports every class wrangler.toml binds, wrapped,
 * bundles it with esbuild, and serves it on plain workerd with the config `npm start` would
 * generate, plus the `nodejs_als` flag the counting needs. The production bundle is untouched.
 */
import * as esbuild from 'esbuild';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { freePort } from '../../gpu-node/index.ts';
import type { ManagedChild } from '../../scripts/child-processes.ts';
import { ensureSeeded, waitForHealthy } from '../../scripts/seed-gateway.ts';
import { generateWorkerdConfig, parseWranglerToml } from '../../scripts/workerd-config.ts';
import { startWorkerd, workerdPackage } from '../../scripts/workerd-process.ts';
import { root, type Harness } from '../overhead/harness.ts';
import { createLimitedKey } from '../overhead/systems.ts';
import type { Counters } from './instrumented.ts';

export interface InstrumentedGateway {
  url: string;
  adminToken: string;
  apiKey: string;
  limitedKey: string;
  nodeToken: string;
  child: ManagedChild;
  /** Calls and rows since the last reset; `reset` starts a new count. */
  counters(reset?: boolean): Promise<Counters>;
}

export async function startInstrumentedGateway(
  h: Harness,
  name: string,
  options: { vars?: Record<string, string>; asyncContext?: boolean; objectsParent?: string } = {},
): Promise<InstrumentedGateway> {
  const asyncContext = options.asyncContext ?? true;
  const dir = path.join(h.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  const text = fs.readFileSync(path.join(root, 'wrangler.toml'), 'utf8');
  const toml = parseWranglerToml(text);
  const classes = [...new Set(toml.durable_objects.bindings.map((binding) => binding.class_name))];
  const entry = path.join(dir, 'entry.ts');
  const gatewayMain = JSON.stringify(path.join(root, toml.main));
  const instrumented = JSON.stringify(path.join(import.meta.dirname, 'instrumented.ts'));
  fs.writeFileSync(
    entry,
    [
      `import * as gateway from ${gatewayMain};`,
      `import { benchFetch, instrument } from ${instrumented};`,
      ...classes.map((cls) => `export const ${cls} = instrument(gateway.${cls}, ${JSON.stringify(cls)});`),
      'export default { fetch: (request, env, ctx) => benchFetch(request, env, ctx, gateway.default) };',
      '',
    ].join('\n'),
  );
  const outfile = path.join(dir, 'bundle', 'instrumented-worker.js');
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2024',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    external: ['cloudflare:*', 'node:*'],
    tsconfig: path.join(root, 'tsconfig.json'),
    logLevel: 'error',
    plugins: asyncContext ? [] : [syncScope],
  });
  // esbuild keeps a service process for later builds; this run needs no more.
  await esbuild.stop();

  // The same config `npm start` generates, with AsyncLocalStorage enabled for the counting.
  const raw = parseToml(text) as Record<string, unknown>;
  if (asyncContext) {
    raw.compatibility_flags = [...((raw.compatibility_flags as string[] | undefined) ?? []), 'nodejs_als'];
  }
  const adminToken = `adm_${crypto.randomBytes(24).toString('base64url')}`;
  const env = { ...process.env, ALLOW_PRIVATE_NODE_URLS: 'true', ADMIN_TOKEN: adminToken, ...options.vars };
  const port = await freePort();
  const configPath = path.join(dir, 'workerd.capnp');
  const objectsDir = options.objectsParent
    ? h.folderIn(options.objectsParent, name)
    : path.join(dir, 'objects');
  fs.writeFileSync(
    configPath,
    generateWorkerdConfig({
      wranglerToml: stringifyToml(raw),
      configDir: dir,
      bundleDir: path.dirname(outfile),
      modules: [path.basename(outfile)],
      doStorageDir: objectsDir,
      address: `127.0.0.1:${port}`,
      env,
      secretNames: ['ADMIN_TOKEN'],
      maxCompatibilityDate: workerdPackage().compatibilityDate,
    }),
  );
  fs.mkdirSync(objectsDir, { recursive: true });
  const workerd = await startWorkerd({ configPath, cwd: dir, env, logFile: h.logFile(name) });
  h.adopt(workerd.child, 3000);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealthy(url, 15_000);
  const seeded = await ensureSeeded(url, adminToken, { adminToken });
  return {
    url,
    adminToken,
    apiKey: seeded.state.demoKey.key,
    limitedKey: await createLimitedKey(url, adminToken),
    nodeToken: seeded.state.nodeToken.token,
    child: workerd.child,
    async counters(reset = false) {
      const response = await fetch(`${url}/__bench/counters${reset ? '?reset' : ''}`);
      return (await response.json()) as Counters;
    },
  };
}

/** Resolves node:async_hooks to bench/scale/sync-scope.ts. */
const syncScope: esbuild.Plugin = {
  name: 'sync-scope',
  setup(build) {
    build.onResolve({ filter: /^node:async_hooks$/ }, () => ({
      path: path.join(import.meta.dirname, 'sync-scope.ts'),
    }));
  },
};

/** POST to a /__bench route; resolves with the wall time it took, in ms. */
export async function benchCall(url: string, route: string, body: unknown): Promise<number> {
  return (await benchAnswer(url, route, body)).ms;
}

/** POST to a /__bench route; resolves with its answer and the wall time it took, in ms. */
export async function benchAnswer(
  url: string,
  route: string,
  body: unknown,
): Promise<{ ms: number; answer: unknown }> {
  const started = performance.now();
  const response = await fetch(`${url}/__bench/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const elapsed = performance.now() - started;
  if (response.status !== 200)
    throw new Error(`/__bench/${route}: HTTP ${response.status} ${text.slice(0, 500)}`);
  return { ms: elapsed, answer: JSON.parse(text) as unknown };
}
