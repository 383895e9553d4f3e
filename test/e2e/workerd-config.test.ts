/**
 * The plain-workerd config that `npm start` generates, booted for real on a throwaway Worker:
 * a tiny ES module with a SQLite Durable Object that counts and sets alarms.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorkerdConfig, type WorkerdConfigInput } from '../../scripts/workerd-config.ts';
import { startWorkerd, workerdPackage, type RunningWorkerd } from '../../scripts/workerd-process.ts';
import { waitFor } from '../support/wait-for.ts';

const WRANGLER_TOML = `
name = "counter-test"
main = "src/index.ts"
compatibility_date = "2026-11-01"

[[durable_objects.bindings]]
name = "COUNTER"
class_name = "Counter"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]

[secrets]
required = ["TEST_SECRET"]

[vars]
GREETING = "hello from wrangler.toml"
LIMITS = { rpm = 5 }
`;

const WORKER = `
import { DurableObject } from 'cloudflare:workers';

export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL)');
  }
  increment(name) {
    return this.ctx.storage.sql
      .exec('INSERT INTO counts VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET n = n + 1 RETURNING n', name)
      .one().n;
  }
  read(name) {
    return this.ctx.storage.sql.exec('SELECT n FROM counts WHERE name = ?', name).toArray()[0]?.n ?? 0;
  }
  async armAlarm() {
    await this.ctx.storage.setAlarm(Date.now() + 50);
  }
  alarm() {
    this.increment('alarms');
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const counter = env.COUNTER.get(env.COUNTER.idFromName('only'));
    if (url.pathname === '/count') return Response.json({ n: await counter.increment('hits') });
    if (url.pathname === '/arm-alarm') return Response.json({ armed: await counter.armAlarm() ?? true });
    if (url.pathname === '/alarms') return Response.json({ n: await counter.read('alarms') });
    if (url.pathname === '/env') return Response.json({ greeting: env.GREETING, limits: env.LIMITS, secret: env.TEST_SECRET, other: env.OTHER_SECRET });
    if (url.pathname === '/proxy') return fetch(url.searchParams.get('to'));
    return new Response('not found', { status: 404 });
  },
};
`;

let dir: string;
let localServer: http.Server;
let workerd: RunningWorkerd | undefined;

function configInput(overrides: Partial<WorkerdConfigInput> = {}): WorkerdConfigInput {
  return {
    wranglerToml: WRANGLER_TOML,
    configDir: dir,
    bundleDir: path.join(dir, 'bundle'),
    modules: ['index.js'],
    doStorageDir: path.join(dir, 'do'),
    address: '127.0.0.1:0',
    env: { GREETING: 'hello from the environment' },
    secretNames: ['OTHER_SECRET'],
    maxCompatibilityDate: workerdPackage().compatibilityDate,
    ...overrides,
  };
}

async function boot(): Promise<RunningWorkerd> {
  const configPath = path.join(dir, 'workerd.capnp');
  fs.writeFileSync(configPath, generateWorkerdConfig(configInput()));
  return startWorkerd({
    configPath,
    cwd: dir,
    env: { ...process.env, TEST_SECRET: 's3cret', OTHER_SECRET: 'other' },
    logFile: path.join(dir, 'workerd.log'),
  });
}

async function getJson(route: string): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${workerd?.port}${route}`);
  expect(response.status).toBe(200);
  return response.json();
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'workerd-config-'));
  fs.mkdirSync(path.join(dir, 'bundle'));
  fs.mkdirSync(path.join(dir, 'do'));
  fs.writeFileSync(path.join(dir, 'bundle', 'index.js'), WORKER);
  localServer = http.createServer((_, res) => res.end('answered by a loopback server'));
  await new Promise<void>((resolve) => localServer.listen(0, '127.0.0.1', resolve));
  workerd = await boot();
});

afterAll(async () => {
  await workerd?.child.stop(2000);
  await new Promise((resolve) => localServer.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a generated plain-workerd config', () => {
  it('serves HTTP and hands the Worker [vars] overrides and secrets from the environment', async () => {
    expect(await getJson('/env')).toEqual({
      greeting: 'hello from the environment',
      limits: { rpm: 5 },
      secret: 's3cret',
      other: 'other',
    });
  });

  it('lets the Worker fetch a server on 127.0.0.1', async () => {
    const { port } = localServer.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${workerd?.port}/proxy?to=http://127.0.0.1:${port}/`);
    expect(await response.text()).toBe('answered by a loopback server');
  });

  it('keeps Durable Object SQLite state and fired alarms across a workerd restart', async () => {
    expect(await getJson('/count')).toEqual({ n: 1 });
    expect(await getJson('/count')).toEqual({ n: 2 });
    await getJson('/arm-alarm');
    await waitFor('the alarm to fire', async () => ((await getJson('/alarms')) as { n: number }).n === 1, {
      timeoutMs: 5000,
      intervalMs: 50,
    });

    const exit = await workerd?.child.stop(5000);
    expect(exit).toEqual({ code: 0, signal: null });
    workerd = await boot();

    expect(await getJson('/count')).toEqual({ n: 3 });
    expect(await getJson('/alarms')).toEqual({ n: 1 });
  });
});

describe('generateWorkerdConfig', () => {
  it('enables SQL only for classes listed in new_sqlite_classes', () => {
    const toml = WRANGLER_TOML.replace(
      '[[migrations]]',
      '[[durable_objects.bindings]]\nname = "OLD"\nclass_name = "Legacy"\n\n[[migrations]]',
    );
    const text = generateWorkerdConfig(configInput({ wranglerToml: toml }));
    expect(text).toContain('(className = "Counter", uniqueKey = "counter-test-Counter", enableSql = true)');
    expect(text).toContain('(className = "Legacy", uniqueKey = "counter-test-Legacy", enableSql = false)');
  });

  it('escapes quotes, backslashes and control characters in values', () => {
    const text = generateWorkerdConfig(configInput({ env: { GREETING: 'say "hi"\\\n' } }));
    expect(text).toContain('(name = "GREETING", text = "say \\"hi\\"\\\\\\x0a")');
  });

  it('lowers a compatibility date newer than the workerd binary supports', () => {
    const text = generateWorkerdConfig(configInput({ maxCompatibilityDate: '2026-01-01' }));
    expect(text).toContain('compatibilityDate = "2026-01-01"');
  });

  it('refuses bindings it cannot reproduce instead of dropping them', () => {
    const toml = `${WRANGLER_TOML}\n[[kv_namespaces]]\nbinding = "CACHE"\nid = "x"\n`;
    expect(() => generateWorkerdConfig(configInput({ wranglerToml: toml }))).toThrow(/uses kv_namespaces/);
  });

  it('refuses a Durable Object binding to another Worker with a message naming the binding', () => {
    const toml = WRANGLER_TOML.replace(
      'class_name = "Counter"',
      'class_name = "Counter"\nscript_name = "elsewhere"',
    );
    expect(() => generateWorkerdConfig(configInput({ wranglerToml: toml }))).toThrow(
      /COUNTER names another Worker/,
    );
  });
});
