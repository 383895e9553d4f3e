/**
 * Property tests of the node API with bad input and wrong credentials: malformed, deep, huge
 * and mistyped reports, registrations claiming more than their token allows, credentials that
 * are not the node's own. Every refusal is a 4xx in OpenAI's shape — never a 5xx, never a hang —
 * no node is registered by a refused registration, and a refused heartbeat, drain or
 * deregistration leaves the node as it was.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RegisterRequestSchema, HeartbeatRequestSchema } from '../../src/protocol/node-api.ts';
import type { RegisterResponse } from '../../src/protocol/node-api.ts';
import {
  adminJson,
  assertGatewayRefusal,
  callAndRead,
  createApiKey,
  createNodeToken,
  engine,
  fakeNodeUrl,
  nodeIds,
  registerLiveNode,
  uniqueModel,
} from './helpers.ts';

const MAX_REPORT = 256 * 1024;

let openToken: string;
let scopedToken: string;
let live: { node: RegisterResponse; stop: () => Promise<void> };
let liveModel: string;
let apiKey: string;

beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  openToken = await createNodeToken();
  const scoped = await adminJson('POST', '/admin/api/node-tokens', {
    name: 'fuzz-scoped',
    models: ['fuzz-ok-*'],
    maxConcurrency: 8,
  });
  expect(scoped.status).toBe(201);
  scopedToken = ((await scoped.json()) as { token: string }).token;
  liveModel = uniqueModel('fuzz-ok-live');
  live = await registerLiveNode([engine('ok-live', liveModel)]);
  apiKey = await createApiKey();
});

afterAll(async () => {
  await live.stop();
  vi.restoreAllMocks();
});

function validReport(model = 'fuzz-ok-model'): Record<string, unknown> {
  return {
    name: `fuzz-${crypto.randomUUID().slice(0, 8)}`,
    url: fakeNodeUrl(),
    engines: [engine('e1', model)],
  };
}

function post(path: string, body: BodyInit | null, headers: Record<string, string>) {
  return callAndRead(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

/** Checks `property`, and that it registered no node. */
async function registersNothing<T>(property: fc.IAsyncPropertyWithHooks<T>, numRuns: number): Promise<void> {
  const before = new Set(await nodeIds());
  await fc.assert(property, { numRuns });
  expect((await nodeIds()).filter((id) => !before.has(id))).toEqual([]);
}

/** The live node as it sees itself, without what moves on its own. */
async function liveNodeView() {
  const res = await callAndRead('/nodes/self', {
    headers: { authorization: `Bearer ${live.node.credential}` },
  });
  expect(res.status).toBe(200);
  const view = JSON.parse(res.text) as {
    nodeId: string;
    draining: boolean;
    engines: Array<Record<string, unknown>>;
  };
  return {
    nodeId: view.nodeId,
    draining: view.draining,
    engines: view.engines.map((e) => [e.id, e.model, e.maxConcurrency]),
  };
}

const registration = fc.constantFrom('/nodes/register', '/nodes/register/dry-run');
const absurd = fc.oneof(
  fc.integer({ min: -1e9, max: 0 }),
  fc.constantFrom(1e300, 2 ** 53 + 1, 0.5, 1_000_000, 1e12),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    '',
    '\u0000',
    'x'.repeat(300),
    'javascript:alert(1)',
    'file:///etc/passwd',
    'ftp://a/',
    'data:,x',
  ),
  fc.constantFrom('http://user:pass@127.0.0.1:1/', 'gopher://127.0.0.1/', 'http://[::1', '//127.0.0.1/'),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);
const ENGINE_FIELDS = [
  'id',
  'kind',
  'model',
  'state',
  'load',
  'maxConcurrency',
  'restarts',
  'lastLogLines',
] as const;
const REPORT_FIELDS = [
  'name',
  'url',
  'agentVersion',
  'engines',
  'gpus',
  'nodeId',
  'credential',
  'tokenId',
] as const;

describe('fuzzing the node API', { timeout: 60_000 }, () => {
  it('refuses malformed, truncated, deep and huge reports and wrong content types, registering nothing', async () => {
    const bad = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ text })),
      fc.double({ min: 0, max: 0.99, noNaN: true }).map((cut) => ({ cut })),
      fc.integer({ min: 129, max: 20_000 }).map((depth) => ({
        text: `{"name":"x","url":"http://127.0.0.1:1","engines":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      })),
      fc.integer({ min: MAX_REPORT + 1, max: 2_000_000 }).map((size) => ({
        text: JSON.stringify({ ...validReport(), agentVersion: 'v'.repeat(size) }),
      })),
      fc
        .constantFrom('text/plain', 'application/x-www-form-urlencoded', 'text/yaml')
        .map((type) => ({ type })),
    );
    await registersNothing(
      fc.asyncProperty(registration, fc.constantFrom('open', 'scoped'), bad, async (path, which, input) => {
        const whole = JSON.stringify(validReport());
        const text =
          'text' in input
            ? input.text
            : 'cut' in input
              ? whole.slice(0, Math.floor(input.cut * whole.length))
              : whole;
        const token = which === 'open' ? openToken : scopedToken;
        const headers: Record<string, string> = { authorization: `Bearer ${token}` };
        if ('type' in input) headers['content-type'] = input.type;
        const res = await post(path, text, headers);
        assertGatewayRefusal(res, `${path} ${text.slice(0, 80)}`);
      }),
      150,
    );
  });

  it('refuses mistyped and out-of-range report fields with a 400, registering nothing', async () => {
    await registersNothing(
      fc.asyncProperty(
        registration,
        fc.dictionary(fc.constantFrom(...REPORT_FIELDS), absurd, { maxKeys: 2 }),
        fc.dictionary(fc.constantFrom(...ENGINE_FIELDS), absurd, { maxKeys: 3 }),
        fc.integer({ min: 1, max: 70 }),
        async (path, reportOverrides, engineOverrides, engineCount) => {
          const base = validReport();
          const engines = Array.from({ length: engineCount }, (_, i) => ({
            ...engine(`e${i}`, 'fuzz-ok-model'),
            ...engineOverrides,
          }));
          const report = { ...base, engines, ...reportOverrides };
          fc.pre(!RegisterRequestSchema.safeParse(JSON.parse(JSON.stringify(report))).success);
          const res = await post(path, JSON.stringify(report), { authorization: `Bearer ${openToken}` });
          assertGatewayRefusal(
            res,
            `${path} ${JSON.stringify({ reportOverrides, engineOverrides, engineCount }).slice(0, 300)}`,
          );
          expect(res.status).toBe(400);
        },
      ),
      150,
    );
  });

  it('refuses a registration that claims a model or a capacity its token does not allow (403)', async () => {
    const claim = fc.oneof(
      fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
        .filter((model) => !model.startsWith('fuzz-ok-') && model.trim() === model && model.length > 0)
        .map((model) => ({ model, maxConcurrency: 8 })),
      fc
        .integer({ min: 9, max: 100_000 })
        .map((maxConcurrency) => ({ model: 'fuzz-ok-model', maxConcurrency })),
    );
    await registersNothing(
      fc.asyncProperty(
        registration,
        claim,
        fc.integer({ min: 0, max: 3 }),
        async (path, bad, goodEngines) => {
          const engines = [
            ...Array.from({ length: goodEngines }, (_, i) => engine(`good${i}`, 'fuzz-ok-fine')),
            engine('claims-more', bad.model, { maxConcurrency: bad.maxConcurrency }),
          ];
          const res = await post(path, JSON.stringify({ ...validReport(), engines }), {
            authorization: `Bearer ${scopedToken}`,
          });
          assertGatewayRefusal(res, `${path} claiming ${JSON.stringify(bad)}`);
          expect(res.status).toBe(403);
        },
      ),
      100,
    );
  });

  it('refuses bad heartbeats (4xx) and leaves the node as it was', async () => {
    const before = await liveNodeView();
    const bad = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ text })),
      fc
        .integer({ min: 129, max: 20_000 })
        .map((depth) => ({ text: `{"engines":${'['.repeat(depth)}${']'.repeat(depth)}}` })),
      fc.integer({ min: MAX_REPORT + 1, max: 1_000_000 }).map((size) => ({
        text: JSON.stringify({
          engines: [engine('ok-live', liveModel, { lastLogLines: ['x'.repeat(size)] })],
        }),
      })),
      fc
        .dictionary(fc.constantFrom(...ENGINE_FIELDS), absurd, { minKeys: 1, maxKeys: 3 })
        .map((overrides) => ({
          text: JSON.stringify({ engines: [{ ...engine('ok-live', liveModel), ...overrides }] }),
        })),
    );
    await fc.assert(
      fc.asyncProperty(bad, async ({ text }) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        fc.pre(
          parsed === undefined ||
            !HeartbeatRequestSchema.safeParse(parsed).success ||
            text.length > MAX_REPORT,
        );
        const res = await post('/nodes/heartbeat', text, { authorization: `Bearer ${live.node.credential}` });
        assertGatewayRefusal(res, `heartbeat ${text.slice(0, 120)}`);
      }),
      { numRuns: 100 },
    );
    expect(await liveNodeView()).toEqual(before);
  });

  it('refuses every credential but the node’s own (401), and the node stays as it was', async () => {
    const before = await liveNodeView();
    const [id, secret] = live.node.credential.slice('snc-'.length).split('.') as [string, string];
    const credential = fc.oneof(
      fc.constantFrom(
        '',
        'Bearer',
        'Bearer garbage',
        `Bearer ${apiKey}`,
        `Bearer ${openToken}`,
        'Bearer test-admin-token',
        `Bearer snc-${id}.${'0'.repeat(secret.length)}`,
        `Bearer snc-${id}.${secret}x`,
        `Bearer snc-${id}.${secret.slice(0, -1)}`,
        `Bearer snc-${'0'.repeat(id.length)}.${secret}`,
        `Basic ${btoa(live.node.credential)}`,
        live.node.credential,
      ),
      fc.stringMatching(/^Bearer snc-[A-Za-z0-9]{8,64}\.[A-Za-z0-9_-]{16,128}$/),
    );
    const route = fc.constantFrom(
      ['POST', '/nodes/heartbeat'],
      ['POST', '/nodes/drain'],
      ['POST', '/nodes/deregister'],
      ['GET', '/nodes/self'],
      ['POST', '/nodes/register'],
      ['POST', '/nodes/register/dry-run'],
    );
    await fc.assert(
      fc.asyncProperty(route, credential, async ([method, path], auth) => {
        // The node token is the right credential for registering.
        fc.pre(!(path.startsWith('/nodes/register') && auth === `Bearer ${openToken}`));
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (auth) headers.authorization = auth;
        const body =
          method === 'GET'
            ? null
            : path.startsWith('/nodes/register')
              ? JSON.stringify(validReport())
              : JSON.stringify({ engines: [engine('ok-live', liveModel)] });
        const res = await callAndRead(path, { method, headers, body });
        assertGatewayRefusal(res, `${method} ${path} with ${auth.slice(0, 60)}`);
        expect(res.status).toBe(401);
      }),
      { numRuns: 150 },
    );
    expect(await liveNodeView()).toEqual(before);
  });
});
