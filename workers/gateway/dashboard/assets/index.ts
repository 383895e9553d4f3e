/**
 * The dashboard's static files, bundled into the Worker (no CDN: it works offline) and served
 * under content-hashed names, so they can be cached forever and pages name them with an SRI hash.
 */
import { Hono } from 'hono';
import { DASHBOARD_JS } from './client-script.ts';
import { DASHBOARD_CSS } from './styles.ts';
import { UPLOT_CSS, UPLOT_JS } from './uplot.generated.ts';

export interface Asset {
  /** `/dashboard/assets/<name>.<hash>.<ext>` */
  url: string;
  /** `sha256-…`, for the `integrity` attribute. */
  integrity: string;
}

export interface DashboardAssets {
  uplotJs: Asset;
  uplotCss: Asset;
  appJs: Asset;
  appCss: Asset;
}

const SOURCES = {
  uplotJs: { name: 'uplot', ext: 'js', type: 'text/javascript', body: UPLOT_JS },
  uplotCss: { name: 'uplot', ext: 'css', type: 'text/css', body: UPLOT_CSS },
  appJs: { name: 'dashboard', ext: 'js', type: 'text/javascript', body: DASHBOARD_JS },
  appCss: { name: 'dashboard', ext: 'css', type: 'text/css', body: DASHBOARD_CSS },
} as const;

let built:
  Promise<{ assets: DashboardAssets; byPath: Map<string, { type: string; body: string }> }> | undefined;

async function build() {
  const byPath = new Map<string, { type: string; body: string }>();
  const assets = {} as DashboardAssets;
  for (const [id, source] of Object.entries(SOURCES) as Array<
    [keyof DashboardAssets, (typeof SOURCES)[keyof DashboardAssets]]
  >) {
    const digest = new Uint8Array(
      await crypto.subtle.digest('SHA-256', new TextEncoder().encode(source.body)),
    );
    const hex = Array.from(digest.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join('');
    const url = `/dashboard/assets/${source.name}.${hex}.${source.ext}`;
    assets[id] = { url, integrity: `sha256-${btoa(String.fromCharCode(...digest))}` };
    byPath.set(url, { type: source.type, body: source.body });
  }
  return { assets, byPath };
}

/** The hashed URLs, computed once per isolate. */
export async function dashboardAssets(): Promise<DashboardAssets> {
  built ??= build();
  return (await built).assets;
}

export const assetRoutes = new Hono();

assetRoutes.get('/dashboard/assets/:file', async function serveAsset(c) {
  built ??= build();
  const asset = (await built).byPath.get(c.req.path);
  if (!asset) return c.text('No such file.', 404);
  return c.body(asset.body, 200, {
    'content-type': `${asset.type}; charset=utf-8`,
    'cache-control': 'public, max-age=31536000, immutable',
    'x-content-type-options': 'nosniff',
  });
});
