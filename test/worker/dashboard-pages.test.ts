import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN,
  adminJson,
  call,
  createKeyRecord,
  createNodeToken,
  createTenant,
  engine,
  registerNode,
  silenceNode,
  uniqueModel,
} from './helpers.ts';
import { csrfOf, page, signedIn } from './dashboard-helpers.ts';

// The Worker's modules load on the first request (seconds on a busy machine): not in a test's time.
beforeAll(async () => {
  await page('/healthz');
}, 30_000);

const XSS = '<script>window.__pwned=1</script>';

describe('dashboard pages', () => {
  it('sets a strict CSP whose nonce is on every script, and no script is inline', async () => {
    const browser = await signedIn('test-admin-token');
    const res = await browser.get('/dashboard');
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1"/>');
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBe(2);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toContain(`nonce="${nonce}"`);
      expect(attributes).toMatch(/src="\/dashboard\/assets\/[a-z]+\.[0-9a-f]{12}\.js"/);
      expect(body).toBe('');
    }
    expect(html).not.toMatch(/ style="/);
    expect((await browser.get('/dashboard')).headers.get('content-security-policy')).not.toContain(nonce);
  });

  it('serves its script, styles and uPlot itself, under content hashes that match their integrity', async () => {
    const browser = await signedIn('test-admin-token');
    const html = await (await browser.get('/dashboard')).text();
    const assets = [
      ...html.matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"]+)" integrity="sha256-([^"]+)"/g),
    ];
    expect(assets.map(([, path]) => path!.replace(/\.[0-9a-f]{12}\./, '.*.')).sort()).toEqual([
      '/dashboard/assets/dashboard.*.css',
      '/dashboard/assets/dashboard.*.js',
      '/dashboard/assets/uplot.*.css',
      '/dashboard/assets/uplot.*.js',
    ]);
    for (const [, path, integrity] of assets) {
      const res = await page(path!);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toContain('immutable');
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await res.arrayBuffer()));
      expect(btoa(String.fromCharCode(...digest))).toBe(integrity);
    }
    expect((await page('/dashboard/assets/uplot.000000000000.js')).status).toBe(404);
  });

  it('creates a key from the form: shown once, then listed without its secret, and it works', async () => {
    const tenantId = await createTenant('form-tenant');
    const browser = await signedIn('test-admin-token');
    const keysPage = await (await browser.get(`/dashboard/keys?tenant=${tenantId}`)).text();
    const res = await browser.post(
      '/dashboard/keys',
      {
        tenant: tenantId,
        name: 'from the form',
        kind: 'api',
        models: 'llama-3*, qwen',
        rpm: '60',
        tokensPerDay: '1_000_000',
      },
      csrfOf(keysPage),
    );
    expect(res.status).toBe(201);
    const html = await res.text();
    const key = /id="new-key" type="text" readonly="" value="(sk-[^"]+)"/.exec(html)?.[1];
    expect(key).toMatch(/^sk-[0-9a-f]{32}\.[0-9a-f]{64}$/);
    expect(html).toContain('only time the full key is shown');
    const listed = await (await browser.get(`/dashboard/keys?tenant=${tenantId}`)).text();
    expect(listed).toContain('from the form');
    expect(listed).toContain('RPM\u00a060');
    expect(listed).not.toContain(key!.split('.')[1]);
    const models = await call('/v1/models', { headers: { authorization: `Bearer ${key}` } });
    expect(models.status).toBe(200);
    const view = (await (await adminJson('GET', `/admin/api/keys/${key!.slice(3, 35)}`)).json()) as {
      models: string[];
      limits: Record<string, number>;
    };
    expect(view.models).toEqual(['llama-3*', 'qwen']);
    expect(view.limits).toEqual({ rpm: 60, tokensPerDay: 1_000_000 });
  });

  it('shows the admin API’s complaint on the form, naming the field, and keeps what was typed', async () => {
    const tenantId = await createTenant('bad-form');
    const browser = await signedIn('test-admin-token');
    const res = await browser.post('/dashboard/keys', { tenant: tenantId, name: 'kept name', rpm: 'lots' });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('Invalid `limits.rpm`');
    expect(html).toContain('value="kept name"');
    expect(html).toContain('value="lots"');
  });

  it('revokes a key only once confirmed; without the script, the server asks first', async () => {
    const created = await createKeyRecord();
    const browser = await signedIn('test-admin-token');
    const asked = await browser.post(`/dashboard/keys/${created.id}/revoke`, {});
    expect(asked.status).toBe(200);
    expect(await asked.text()).toContain('Revoke this key?');
    expect((await call('/v1/models', { headers: { authorization: `Bearer ${created.key}` } })).status).toBe(
      200,
    );
    const done = await browser.post(`/dashboard/keys/${created.id}/revoke`, { confirmed: 'yes' });
    expect(done.status).toBe(303);
    expect((await call('/v1/models', { headers: { authorization: `Bearer ${created.key}` } })).status).toBe(
      401,
    );
  });

  it('shows a key name and model names holding markup as text', async () => {
    const tenantId = await createTenant(XSS);
    const created = await createKeyRecord({ tenantId, models: [XSS] });
    expect((await adminJson('PATCH', `/admin/api/keys/${created.id}`, { name: XSS })).status).toBe(200);
    const browser = await signedIn('test-admin-token');
    for (const path of [
      `/dashboard/keys?tenant=${tenantId}`,
      `/dashboard/keys/${created.id}`,
      '/dashboard/tenants',
      '/dashboard/audit',
    ]) {
      const html = await (await browser.get(path)).text();
      expect(html, path).not.toContain(XSS);
      expect(html, path).toContain('&lt;script&gt;window.__pwned=1&lt;/script&gt;');
    }
  });

  it('keeps a tenant admin to its own tenant: no operator pages, no other tenant’s keys or usage', async () => {
    const mine = await createTenant('mine');
    const theirs = await createTenant('theirs');
    const admin = await createKeyRecord({ tenantId: mine, kind: 'admin' });
    const ownKey = await createKeyRecord({ tenantId: mine });
    const otherKey = await createKeyRecord({ tenantId: theirs });
    const browser = await signedIn(admin.key);
    for (const path of ['/dashboard/nodes', '/dashboard/tenants', `/dashboard/tenants/${theirs}`]) {
      expect((await browser.get(path)).status, path).toBe(403);
    }
    for (const path of [
      `/dashboard/keys/${otherKey.id}`,
      `/dashboard/keys?tenant=${theirs}`,
      `/dashboard/usage?key=${otherKey.id}`,
      `/dashboard/usage.csv?key=${otherKey.id}`,
    ]) {
      const res = await browser.get(path);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toContain('theirs');
    }
    const keys = await (await browser.get(`/dashboard/keys`)).text();
    expect(keys).toContain(ownKey.id.slice(0, 8));
    expect(keys).not.toContain(otherKey.id.slice(0, 8));
    expect(keys).not.toContain('/dashboard/nodes');
    const revoke = await browser.post(`/dashboard/keys/${otherKey.id}/revoke`, { confirmed: 'yes' });
    expect(revoke.status).toBe(404);
    const drain = await browser.post('/dashboard/nodes/anything/drain', { draining: 'yes' });
    expect(drain.status).toBe(403);
    expect((await call('/v1/models', { headers: { authorization: `Bearer ${otherKey.key}` } })).status).toBe(
      200,
    );
  });

  it('shows an engine on a node that stopped reporting as unknown, not ready', async () => {
    const model = uniqueModel('silent');
    const node = await registerNode([engine('silent-engine', model)]);
    const browser = await signedIn('test-admin-token');
    const before = await (await browser.get('/dashboard/nodes')).text();
    expect(sectionOf(before, node.nodeId)).toContain('<span class="pill ok">ready</span>');
    await silenceNode(node.nodeId);
    const after = sectionOf(await (await browser.get('/dashboard/nodes')).text(), node.nodeId);
    expect(after).toContain('<span class="pill bad">unhealthy</span>');
    expect(after).toContain('<span class="pill idle">unknown</span>');
    expect(after).not.toContain('>ready<');
  });

  it('shows the last log lines of a crash-looping engine, as text', async () => {
    const model = uniqueModel('crashing');
    const node = await registerNode([
      engine('bad-engine', model, {
        state: 'crashloop',
        restarts: 6,
        lastLogLines: ['Traceback:', `CUDA error ${XSS}`],
      }),
    ]);
    const browser = await signedIn('test-admin-token');
    const section = sectionOf(await (await browser.get('/dashboard/nodes')).text(), node.nodeId);
    expect(section).toContain('<span class="pill bad">crashloop</span>');
    expect(section).toContain('Recent log lines of bad-engine (crashloop)');
    expect(section).toContain('Traceback:\nCUDA error &lt;script&gt;');
  });

  it('shows a node’s GPUs with memory, utilization and temperature', async () => {
    const res = await call('/nodes/register', {
      method: 'POST',
      headers: { authorization: `Bearer ${await createNodeToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'gpu-box',
        url: 'http://127.0.0.1:9',
        engines: [engine('g1', uniqueModel('gpu'))],
        gpus: [
          {
            index: 0,
            uuid: 'GPU-1',
            name: 'NVIDIA L4',
            memoryUsedMiB: 12288,
            memoryTotalMiB: 23034,
            utilizationPct: 87,
            temperatureC: 64,
          },
        ],
      }),
    });
    const { nodeId } = (await res.json()) as { nodeId: string };
    const browser = await signedIn('test-admin-token');
    const section = sectionOf(await (await browser.get('/dashboard/nodes')).text(), nodeId);
    expect(section).toContain('0 · NVIDIA L4');
    expect(section).toContain('<meter min="0" max="23034" value="12288"></meter>');
    expect(section).toContain('12.0 GiB / 22.5 GiB');
    expect(section).toContain('87 %');
    expect(section).toContain('64 °C');
  });

  it('drains a node and resumes it, as the operator, in the audit log', async () => {
    const model = uniqueModel('drained');
    const node = await registerNode([engine('e1', model)]);
    const browser = await signedIn('test-admin-token');
    const drain = await browser.post(`/dashboard/nodes/${node.nodeId}/drain`, { draining: 'yes' });
    expect(drain.status).toBe(303);
    const pool = async () =>
      (
        (await (await call(`/admin/api/pools/${model}`, { headers: ADMIN })).json()) as {
          engines: Array<{ available: boolean }>;
        }
      ).engines[0]!.available;
    expect(await pool()).toBe(false);
    expect(sectionOf(await (await browser.get('/dashboard/nodes')).text(), node.nodeId)).toContain(
      'ready · draining',
    );
    await browser.post(`/dashboard/nodes/${node.nodeId}/drain`, { draining: 'no' });
    expect(await pool()).toBe(true);
    const audit = await (await browser.get('/dashboard/audit')).text();
    expect(audit).toContain('node.drain');
    expect(audit).toContain('node.resume');
    expect((await browser.post('/dashboard/nodes/nope/drain', { draining: 'yes' })).status).toBe(404);
  });

  it('exports usage as CSV through the admin API', async () => {
    const browser = await signedIn('test-admin-token');
    const res = await browser.get('/dashboard/usage.csv?range=24h');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="switchyard-usage-/);
    expect((await res.text()).split('\r\n')[0]).toBe(
      'start,tenantId,keyId,model,requests,promptTokens,completionTokens,cachedTokens,clientErrors,rateLimited,serverErrors,aborted,ttftMsSum,ttftCount,durationMsSum',
    );
  });

  it('renders every page for the operator', async () => {
    const tenantId = await createTenant('every-page');
    const key = await createKeyRecord({ tenantId });
    const browser = await signedIn('test-admin-token');
    for (const path of [
      '/dashboard',
      '/dashboard?range=30d',
      '/dashboard/keys',
      `/dashboard/keys/${key.id}`,
      '/dashboard/usage',
      '/dashboard/usage?range=1h&granularity=minute&group=model',
      '/dashboard/usage?range=90d&granularity=minute&group=tenant',
      '/dashboard/nodes',
      '/dashboard/tenants',
      `/dashboard/tenants/${tenantId}`,
      '/dashboard/audit',
    ]) {
      const res = await browser.get(path);
      expect(res.status, path).toBe(200);
    }
    expect((await browser.get('/dashboard/nope')).status).toBe(404);
  });
});

/** The node's own panel on the nodes page. */
function sectionOf(html: string, nodeId: string): string {
  const start = html.indexOf(`id="node-${nodeId}"`);
  if (start < 0) throw new Error(`node ${nodeId} is not on the page`);
  const end = html.indexOf('</section>', start);
  return html.slice(start, end);
}
