/**
 * A key's secret is shown once, in the answer that creates (or rotates) it, and nowhere else:
 * not in any admin list or read, not in the audit log or usage, not as its SHA-256 hash, and
 * not in the gateway's logs.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../src/credentials.ts';
import {
  ADMIN,
  adminJson,
  call,
  chat,
  createKeyRecord,
  createTenant,
  engine,
  registerNode,
  uniqueModel,
  usageTotals,
} from './helpers.ts';

/** Everything about a key that must never show again: the full key, its secret, the secret's hash. */
async function secretsOf(key: string): Promise<string[]> {
  const secret = key.slice(key.indexOf('.') + 1);
  return [key, secret, await sha256Hex(secret), await sha256Hex(key)];
}

function expectFree(text: string, secrets: string[], where: string): void {
  for (const secret of secrets) expect(text.includes(secret), `${where} holds a secret`).toBe(false);
}

describe('secrets stay secret', () => {
  afterEach(() => vi.restoreAllMocks());

  it('never shows a key secret or its hash in tenant, key, audit or usage answers', async () => {
    const model = uniqueModel('secrets');
    await registerNode([engine('ok', model)]);
    const tenantId = await createTenant('secretive');
    const api = await createKeyRecord({ tenantId, limits: { rpm: 100 } });
    const admin = await createKeyRecord({ tenantId, kind: 'admin' });
    expect((await chat(api.key, { model })).status).toBe(200);
    const rotated = (await (
      await adminJson('POST', `/admin/api/keys/${api.id}/rotate`, { gracePeriodSeconds: 60 })
    ).json()) as { key: string };
    expect((await chat(rotated.key, { model })).status).toBe(200);
    await vi.waitFor(async () => expect((await usageTotals(api.id)).requests).toBe(2));

    const secrets = [
      ...(await secretsOf(api.key)),
      ...(await secretsOf(rotated.key)),
      ...(await secretsOf(admin.key)),
    ];
    const reads: Array<[string, Record<string, string>]> = [
      ['/admin/api/tenants', ADMIN],
      [`/admin/api/tenants/${tenantId}`, ADMIN],
      [`/admin/api/tenants/${tenantId}/keys`, ADMIN],
      [`/admin/api/keys/${api.id}`, ADMIN],
      [`/admin/api/keys/${admin.id}`, ADMIN],
      ['/admin/api/audit?limit=1000', ADMIN],
      [`/admin/api/usage?tenantId=${tenantId}`, ADMIN],
      [`/admin/api/tenants/${tenantId}/keys`, { authorization: `Bearer ${admin.key}` }],
      ['/admin/api/audit', { authorization: `Bearer ${admin.key}` }],
    ];
    for (const [path, auth] of reads) {
      const res = await call(path, { headers: auth });
      expect(res.status, path).toBe(200);
      expectFree(await res.text(), secrets, path);
    }
    const csv = await call(`/admin/api/usage?tenantId=${tenantId}`, {
      headers: { ...ADMIN, accept: 'text/csv' },
    });
    expectFree(await csv.text(), secrets, 'usage CSV');
    // Changes answer with the key's view, which holds no secret either.
    const patched = await adminJson('PATCH', `/admin/api/keys/${api.id}`, { name: 'renamed' });
    expectFree(await patched.text(), secrets, 'PATCH answer');
    const revoked = await adminJson('DELETE', `/admin/api/keys/${api.id}`);
    expectFree(await revoked.text(), secrets, 'DELETE answer');
  });

  it('shows the new secret in the rotation answer only, never the old one', async () => {
    const { id, key } = await createKeyRecord();
    const res = await adminJson('POST', `/admin/api/keys/${id}/rotate`, {});
    const text = await res.text();
    expectFree(text, await secretsOf(key), 'rotation answer');
    const { key: fresh } = JSON.parse(text) as { key: string };
    const listed = await (await call(`/admin/api/keys/${id}`, { headers: ADMIN })).text();
    expectFree(listed, await secretsOf(fresh), 'key read after rotation');
  });

  it('never writes a key or its secret to the logs', async () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
      vi.spyOn(console, level),
    );
    const model = uniqueModel('quiet');
    await registerNode([engine('ok', model)]);
    const failing = uniqueModel('quiet-fail');
    await registerNode([engine('fail500', failing)]);
    const api = await createKeyRecord({ limits: { rpm: 2 } });
    const admin = await createKeyRecord({ kind: 'admin', tenantId: api.tenantId });
    const wrong = `${api.key.slice(0, api.key.indexOf('.'))}.${'0'.repeat(64)}`;

    expect((await chat(api.key, { model })).status).toBe(200);
    await (await chat(api.key, { model, stream: true })).text();
    expect((await chat(api.key, { model })).status).toBe(429);
    expect((await chat(wrong, { model })).status).toBe(401);
    expect((await chat(admin.key, { model })).status).toBe(401);
    const second = await createKeyRecord({ tenantId: api.tenantId });
    expect((await chat(second.key, { model: failing })).status).toBe(500);
    expect((await chat(second.key, { model: uniqueModel('none') })).status).toBe(404);
    expect(
      (await adminJson('GET', '/admin/api/audit', undefined, { authorization: `Bearer ${admin.key}` }))
        .status,
    ).toBe(200);
    expect((await adminJson('POST', `/admin/api/keys/${second.id}/rotate`, {})).status).toBe(200);
    expect((await adminJson('DELETE', `/admin/api/keys/${second.id}`)).status).toBe(200);
    expect((await chat(second.key, { model })).status).toBe(401);
    await vi.waitFor(async () => expect((await usageTotals(api.id)).requests).toBe(3));

    const logged = spies
      .flatMap((spy) => spy.mock.calls)
      .map((args) =>
        args
          .map((a) =>
            a instanceof Error ? `${a.message} ${a.stack}` : typeof a === 'string' ? a : JSON.stringify(a),
          )
          .join(' '),
      )
      .join('\n');
    expect(logged).toContain('"msg":"forwarded"'); // the spies did see the gateway's logs
    const secrets = [
      ...(await secretsOf(api.key)),
      ...(await secretsOf(admin.key)),
      ...(await secretsOf(second.key)),
      ...(await secretsOf(wrong)),
    ];
    expectFree(logged, secrets, 'the logs');
  });
});
