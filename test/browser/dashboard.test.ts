/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, against the whole
 * system as `npm start` runs it (test/support/local-system.ts). Screenshots of every page at 1280
 * and 390 px go to docs/screenshots/ with `npm run screenshots`, else to a temporary folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { descendantsOf } from '../../gpu-node/index.ts';
import { startLocalSystem, type LocalSystem } from '../support/local-system.ts';
import { waitFor } from '../support/wait-for.ts';

const CHROMIUM = inject('chromium');
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? path.resolve(import.meta.dirname, '../../docs/screenshots')
  : fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-screenshots-'));
const WIDTHS = [1280, 390] as const;
const CHAT = 'switchyard-sim-chat';
const EMBED = 'switchyard-sim-embed';
const XSS_KEY = '<script>window.__xss = "key"</script>';
const XSS_MODEL = '<script>window.__xss = "model"</script>';

let system: LocalSystem;
let browser: Browser;
let operator: BrowserContext;
let page: Page;
/** Console errors and uncaught exceptions on every page of every context. */
const consoleErrors: string[] = [];
/** Pages the tests open expecting a refusal (Chromium logs their status as a console error). */
const refusedUrls = new Set<string>();

describe.skipIf(!CHROMIUM)('the dashboard in Chromium', () => {
  beforeAll(async () => {
    system = await startLocalSystem({ USAGE_FLUSH_MS: '500' });
    browser = await chromium.launch({
      executablePath: CHROMIUM!,
      headless: true,
      // playwright-core starts it with a fresh temporary user-data-dir.
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    operator = await newContext();
    page = await operator.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    if (system) await system.stop();
  }, 60_000);

  it('signs the operator in with the link npm start printed, and the link works once', async () => {
    expect(system.signInLink).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dashboard\/sign-in\/link\?code=/);
    await page.goto(system.signInLink!);
    await page.waitForURL(`${system.gatewayUrl}/dashboard`);
    expect(await page.locator('h1').textContent()).toBe('Overview');
    expect(await page.locator('.who').textContent()).toContain('Operator');
    const [cookie] = await operator.cookies();
    expect(cookie).toMatchObject({
      name: 'switchyard_session',
      httpOnly: true,
      sameSite: 'Strict',
      secure: false,
    });
    expect(cookie!.expires * 1000).toBeGreaterThan(Date.now() + 11 * 3600_000);

    const stranger = await newContext();
    const again = await stranger.newPage();
    refusedUrls.add(system.signInLink!);
    const response = await again.goto(system.signInLink!);
    expect(response?.status()).toBe(410);
    expect(await again.locator('.notice.bad').textContent()).toContain('already used or has expired');
    expect(await stranger.cookies()).toEqual([]);
    await stranger.close();
  });

  it('creates a key, copies it, calls with it, sees the call in usage, revokes it, and the next call fails', async () => {
    await page.goto(`${system.gatewayUrl}/dashboard/keys`);
    await openCreateForm(page);
    await page.locator('input[name="name"]').fill('browser-test');
    await page.locator('input[name="rpm"]').fill('600');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.locator('#new-key');
    const key = await shown.inputValue();
    expect(key).toMatch(/^sk-[0-9a-f]{32}\.[0-9a-f]{64}$/);
    await page.getByRole('button', { name: 'Copy' }).click();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(key);
    expect(await page.getByRole('button', { name: 'Copied' }).count()).toBe(1);
    await screenshots(page, 'key-created', { reload: false });

    const client = new OpenAI({ apiKey: key, baseURL: `${system.gatewayUrl}/v1`, maxRetries: 0 });
    const answer = await client.chat.completions.create({
      model: CHAT,
      messages: [{ role: 'user', content: 'Hello from the browser test' }],
      max_tokens: 8,
    });
    expect(answer.choices[0]?.message.content).toBeTruthy();
    await expect(
      client.chat.completions.create({ model: XSS_MODEL, messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toMatchObject({ status: 404 });

    await page.goto(`${system.gatewayUrl}/dashboard/usage?range=1h&granularity=minute&group=key`);
    await waitFor(
      'the call to show in the usage table',
      async () => {
        await page.reload();
        return (await page.locator('#usage-table').textContent())?.includes('browser-test');
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );

    await page.goto(`${system.gatewayUrl}/dashboard/keys`);
    await page.getByRole('link', { name: 'browser-test' }).click();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Revoke key' }).click();
    await page.waitForURL(/\/dashboard\/keys\?tenant=.*&revoked=/);
    const row = page.locator('#key-list tr', { hasText: 'browser-test' });
    expect(await row.locator('.pill').textContent()).toBe('revoked');
    await expect(
      client.chat.completions.create({ model: CHAT, messages: [{ role: 'user', content: 'again' }] }),
    ).rejects.toMatchObject({ status: 401 });
  });

  it('shows the node and its engines; an engine killed again and again goes from ready to crashloop, with its log', async () => {
    await page.goto(`${system.gatewayUrl}/dashboard/nodes`);
    const node = page.locator('#node-list section', { hasText: 'local' });
    expect(await node.locator('h2 .pill').textContent()).toBe('healthy');
    for (const engine of [CHAT, EMBED]) expect(await engineCell(engine, 'State')).toBe('ready');
    expect(await engineCell(EMBED, 'Restarts')).toBe('0');

    // The page is not reloaded: what changes, its live refresh shows.
    const seen = new Set<string>();
    const killed = new Set<number>();
    await waitFor(
      'the dashboard to show the killed engine crash-looping',
      async () => {
        const state = await engineCell(EMBED, 'State');
        seen.add(`${state} (${await engineCell(EMBED, 'Restarts')} restarts)`);
        if (state === 'crashloop') return true;
        const pid = enginePid(EMBED);
        if (pid !== null && !killed.has(pid)) {
          process.kill(pid, 'SIGKILL');
          killed.add(pid);
        }
        return false;
      },
      { timeoutMs: 100_000, intervalMs: 200 },
    );
    expect(killed.size).toBeGreaterThanOrEqual(6);
    expect(seen).toContain('ready (0 restarts)');
    expect([...seen].some((s) => /\(\d+ restarts\)/.test(s) && !s.endsWith('(0 restarts)'))).toBe(true);
    expect(await engineCell(CHAT, 'State')).toBe('ready');
    const log = node.locator('details', { hasText: `Recent log lines of ${EMBED} (crashloop)` });
    expect((await log.locator('pre').textContent())?.length).toBeGreaterThan(0);

    await page.goto(`${system.gatewayUrl}/dashboard`);
    expect(await page.locator('.stat', { hasText: 'Engines ready' }).locator('.value').textContent()).toBe(
      '1 / 2',
    );
  });

  it('keeps a tenant admin to its own tenant: no operator pages, no other tenant’s keys', async () => {
    await page.goto(`${system.gatewayUrl}/dashboard/tenants`);
    await page.locator('input[name="name"]').fill('acme');
    await page.locator('input[name="rpm"]').fill('120');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByRole('link', { name: 'Create its first key →' }).click();
    const adminKey = await createKey(page, 'acme-admin', 'admin');
    await createKey(page, 'acme-ci', 'api');

    const tenant = await newContext();
    const own = await tenant.newPage();
    await own.goto(`${system.gatewayUrl}/dashboard`);
    await own.waitForURL(/\/dashboard\/sign-in\?next=/);
    await own.locator('input[name="credential"]').fill(adminKey);
    await own.getByRole('button', { name: 'Sign in' }).click();
    await own.waitForURL(`${system.gatewayUrl}/dashboard`);
    expect(await own.locator('.who').textContent()).toContain('Tenant admin · acme');
    const nav = await own.locator('nav.tabs').textContent();
    expect(nav).not.toContain('Nodes');
    expect(nav).not.toContain('Tenants');

    const demoKeyId = system.demoKey.slice(3, 35);
    const demoTenant = await adminGet<{ tenantId: string }>(`/admin/api/keys/${demoKeyId}`);
    for (const [pathname, status] of [
      ['/dashboard/nodes', 403],
      ['/dashboard/tenants', 403],
      [`/dashboard/keys/${demoKeyId}`, 404],
      [`/dashboard/keys?tenant=${demoTenant.tenantId}`, 404],
      [`/dashboard/usage?tenant=${demoTenant.tenantId}&key=${demoKeyId}`, 404],
    ] as const) {
      refusedUrls.add(`${system.gatewayUrl}${pathname}`);
      const response = await own.goto(`${system.gatewayUrl}${pathname}`);
      expect(response?.status(), pathname).toBe(status);
      expect(await own.locator('main').textContent(), pathname).not.toContain('browser-test');
    }
    await own.goto(`${system.gatewayUrl}/dashboard/keys`);
    const keys = await own.locator('#key-list').textContent();
    expect(keys).toContain('acme-ci');
    expect(keys).not.toContain('browser-test');
    expect(keys).not.toContain('demo');
    await own.goto(`${system.gatewayUrl}/dashboard/audit`);
    expect(await own.locator('#audit-log').textContent()).not.toContain(demoTenant.tenantId);
    await screenshots(own, 'tenant-admin-keys', { path: '/dashboard/keys' });
    await tenant.close();
  });

  it('shows a key name and a model name holding <script> as text', async () => {
    await page.goto(`${system.gatewayUrl}/dashboard/keys`);
    await openCreateForm(page);
    await page.locator('input[name="name"]').fill(XSS_KEY);
    await page.locator('textarea[name="models"]').fill(`${XSS_MODEL}\n${CHAT}`);
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('#new-key').waitFor();
    const row = page.locator('#key-list tr', { hasText: XSS_KEY });
    expect(await row.count()).toBe(1);
    expect(await row.locator('.tag').first().textContent()).toBe(XSS_MODEL);
    await page.goto(`${system.gatewayUrl}/dashboard/usage?range=1h&group=model`);
    expect(await page.locator('#usage-table code', { hasText: XSS_MODEL }).count()).toBeGreaterThan(0);
    await page.goto(`${system.gatewayUrl}/dashboard`);
    expect(await page.locator('#top-models code', { hasText: XSS_MODEL }).count()).toBe(1);
    await page.goto(`${system.gatewayUrl}/dashboard/audit`);
    expect(await page.locator('#audit-log').textContent()).toContain('"name":"<script>window.__xss');
    expect(await page.evaluate('window.__xss')).toBeUndefined();
  });

  it('shows every page at 1280 and 390 px without sideways scrolling, and no page logs a console error', async () => {
    const demo = new OpenAI({ apiKey: system.demoKey, baseURL: `${system.gatewayUrl}/v1`, maxRetries: 0 });
    for (let i = 0; i < 6; i++) {
      const stream = await demo.chat.completions.create({
        model: CHAT,
        messages: [{ role: 'user', content: `Tell me something, ${i}` }],
        max_tokens: 24,
        stream: true,
      });
      for await (const _chunk of stream) void _chunk;
    }
    await demo.embeddings.create({ model: EMBED, input: 'hello' }).catch(() => null);
    const demoKeyId = system.demoKey.slice(3, 35);
    await page.goto(`${system.gatewayUrl}/dashboard/usage?range=1h&group=model`);
    await waitFor(
      'the streamed calls in usage',
      async () => {
        await page.reload();
        return (await page.locator('#usage-table').textContent())?.includes(CHAT);
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );

    for (const [name, pathname] of [
      ['overview', '/dashboard'],
      ['keys', '/dashboard/keys'],
      ['key', `/dashboard/keys/${demoKeyId}`],
      ['usage', '/dashboard/usage?range=1h&granularity=minute&group=model'],
      ['nodes', '/dashboard/nodes'],
      ['tenants', '/dashboard/tenants'],
      ['audit', '/dashboard/audit'],
    ] as const) {
      await screenshots(page, name, { path: pathname });
    }
    const signedOut = await (await newContext()).newPage();
    await screenshots(signedOut, 'sign-in', { path: '/dashboard/sign-in' });

    await page.goto(`${system.gatewayUrl}/dashboard`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/dashboard\/sign-in\?signed-out/);
    expect(await operator.cookies()).toEqual([]);

    expect(consoleErrors).toEqual([]);
  });
});

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: system.gatewayUrl });
  context.on('page', watchConsole);
  return context;
}

function watchConsole(tab: Page): void {
  tab.on('console', (message) => {
    if (message.type() !== 'error') return;
    const refused = /^Failed to load resource: the server responded with a status of 4\d\d/.test(
      message.text(),
    );
    if (refused && refusedUrls.has(message.location().url)) return;
    consoleErrors.push(`${tab.url()}: ${message.text()}`);
  });
  tab.on('pageerror', (error) => consoleErrors.push(`${tab.url()}: ${error.message}`));
}

/** Saves the page at each width, full length, after checking nothing scrolls sideways. */
async function screenshots(
  tab: Page,
  name: string,
  options: { path?: string; reload?: boolean },
): Promise<void> {
  for (const width of WIDTHS) {
    await tab.setViewportSize({ width, height: 900 });
    if (options.path) await tab.goto(`${system.gatewayUrl}${options.path}`);
    // Charts are drawn by the page's script once uPlot is loaded.
    await tab.waitForFunction(
      "document.querySelectorAll('[data-chart]').length === document.querySelectorAll('[data-chart] .uplot').length",
    );
    const scrollWidth = await tab.evaluate('document.documentElement.scrollWidth');
    expect(scrollWidth as number, `${name} at ${width} px scrolls sideways`).toBeLessThanOrEqual(width);
    await tab.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await tab.setViewportSize({ width: 1280, height: 900 });
}

/** A cell of an engine's row on the nodes page, by column label (as the page shows it now). */
async function engineCell(engineId: string, column: string): Promise<string> {
  const row = page.locator('#node-list tr', {
    has: page.locator('td[data-label="Engine"]', { hasText: engineId }),
  });
  return ((await row.locator(`td[data-label="${column}"]`).textContent()) ?? '').trim();
}

/** The pid of an engine the local agent runs, from /proc; null while it is not running. */
function enginePid(engineId: string): number | null {
  for (const pid of descendantsOf(system.agentPid())) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmdline.includes('--engine-id') && cmdline[cmdline.indexOf('--engine-id') + 1] === engineId)
        return pid;
    } catch {
      // it ended while we looked
    }
  }
  return null;
}

/** Creates a key in the tenant the keys page shows; returns the full key, shown once. */
async function createKey(tab: Page, name: string, kind: 'api' | 'admin'): Promise<string> {
  await openCreateForm(tab);
  await tab.locator('input[name="name"]').fill(name);
  await tab.locator('select[name="kind"]').selectOption(kind);
  await tab.getByRole('button', { name: 'Create key' }).click();
  return tab.locator('#new-key').inputValue();
}

/** Opens the keys page's "Create a key" section (open already when the tenant has no keys). */
async function openCreateForm(tab: Page): Promise<void> {
  const details = tab.locator('details', { has: tab.locator('summary', { hasText: 'Create a key' }) });
  if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
}

async function adminGet<T>(pathname: string): Promise<T> {
  const { adminToken } = JSON.parse(fs.readFileSync(path.join(system.home, 'state.json'), 'utf8')) as {
    adminToken: string;
  };
  const response = await fetch(`${system.gatewayUrl}${pathname}`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  if (!response.ok) throw new Error(`${pathname}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}
