/**
 * What the Worker bundle weighs and what it is made of. Wrangler (esbuild, unminified) starts
 * each bundled module with a `// <path>` comment, so the bytes between two such lines belong to
 * the first one's module: enough to say how much is zod, hono, the gateway itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Bundle } from '../../scripts/bundle.ts';

export interface BundleSize {
  bytes: number;
  gzipBytes: number;
  /** Largest first. */
  parts: Array<{ part: string; bytes: number }>;
}

const MODULE_LINE = /^\/\/ ((?:node_modules|src|workers|gpu-node|scripts)\/\S+\.(?:[cm]?js|tsx?|json))$/;

export function bundleSize(bundle: Bundle): BundleSize {
  const text = bundle.modules.map((file) => fs.readFileSync(path.join(bundle.dir, file), 'utf8')).join('\n');
  const parts = new Map<string, number>();
  let current = '(runtime glue)';
  for (const line of text.split('\n')) {
    const module = MODULE_LINE.exec(line)?.[1];
    if (module) current = partOf(module);
    parts.set(current, (parts.get(current) ?? 0) + Buffer.byteLength(line) + 1);
  }
  return {
    bytes: bundle.bytes,
    gzipBytes: zlib.gzipSync(text, { level: 9 }).length,
    parts: [...parts].map(([part, bytes]) => ({ part, bytes })).sort((a, b) => b.bytes - a.bytes),
  };
}

function partOf(module: string): string {
  const segments = module.split('/');
  if (segments[0] === 'node_modules') {
    const name = segments[1]!.startsWith('@') ? `${segments[1]}/${segments[2]}` : segments[1]!;
    if (name === 'zod' && module.includes('/locales/')) return 'zod (locales)';
    return name;
  }
  return segments.slice(0, 2).join('/');
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}
