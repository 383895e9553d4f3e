/**
 * The layering, enforced. Every import in the shipped code must point where its layer may look:
 *   src/       only src/, and of packages only zod (it runs on the edge and on the node alike);
 *   workers/   workers/ and src/, any package;
 *   gpu-node/  gpu-node/ and src/ (and the root package.json, for its version), any package;
 *   scripts/   scripts/, src/, and gpu-node/ only through its public gpu-node/index.ts;
 *   bench/     bench/, scripts/, src/, and gpu-node/index.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LAYERS = ['src', 'workers', 'gpu-node', 'scripts', 'bench'] as const;
type Layer = (typeof LAYERS)[number];

const under = (dir: string) => (target: string) => target.startsWith(`${dir}/`);
const is = (file: string) => (target: string) => target === file;
const anyOf =
  (...tests: Array<(target: string) => boolean>) =>
  (target: string) =>
    tests.some((test) => test(target));

/** What each layer may import: repo files (as repo-relative paths) and packages (by specifier). */
const RULES: Record<Layer, { file: (target: string) => boolean; pkg: (specifier: string) => boolean }> = {
  src: { file: under('src'), pkg: (s) => s === 'zod' || s.startsWith('zod/') },
  workers: { file: anyOf(under('workers'), under('src')), pkg: () => true },
  'gpu-node': { file: anyOf(under('gpu-node'), under('src'), is('package.json')), pkg: () => true },
  scripts: { file: anyOf(under('scripts'), under('src'), is('gpu-node/index.ts')), pkg: () => true },
  bench: {
    file: anyOf(under('bench'), under('scripts'), under('src'), is('gpu-node/index.ts')),
    pkg: () => true,
  },
};

const IMPORT_PATTERNS = [
  // import x from '…', import { a, b } from '…', import type …, export { … } from '…', export * from '…'
  /^[ \t]*(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1/gm,
  // import '…'
  /^[ \t]*import\s*(['"])([^'"]+)\1/gm,
  // import('…')
  /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g,
];

/** Every module specifier `source` imports or re-exports. */
function importSpecifiers(source: string): string[] {
  return IMPORT_PATTERNS.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[2]!));
}

interface SourceFile {
  /** Repo-relative, with forward slashes. */
  path: string;
  source: string;
}

/** Each import that breaks the layering, as `file → specifier (why)`. */
function layerViolations(files: SourceFile[]): string[] {
  const violations: string[] = [];
  for (const file of files) {
    const layer = LAYERS.find((l) => file.path.startsWith(`${l}/`));
    if (!layer) continue;
    const rule = RULES[layer];
    for (const specifier of importSpecifiers(file.source)) {
      if (specifier.startsWith('.') || specifier.startsWith('/')) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file.path), specifier));
        if (!rule.file(target)) violations.push(`${file.path} → '${specifier}' (resolves to ${target})`);
      } else if (!rule.pkg(specifier)) {
        violations.push(`${file.path} → '${specifier}' (package not allowed in ${layer}/)`);
      }
    }
  }
  return violations;
}

function sourceFiles(dir: string): SourceFile[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(relative);
    if (!/\.[cm]?[jt]sx?$/.test(entry.name)) return [];
    return [{ path: relative, source: readFileSync(path.join(ROOT, relative), 'utf8') }];
  });
}

describe('layering', () => {
  const files = LAYERS.flatMap((layer) => sourceFiles(layer));

  it('every import stays within what its layer may use', () => {
    const violations = layerViolations(files);
    expect(violations, `layering broken:\n  ${violations.join('\n  ')}\n`).toEqual([]);
  });

  it('actually scans the tree (so the check above cannot pass by finding nothing)', () => {
    for (const layer of LAYERS) expect(files.some((f) => f.path.startsWith(`${layer}/`))).toBe(true);
    const specifiers = files.flatMap((f) => importSpecifiers(f.source));
    expect(specifiers).toContain('zod');
    expect(specifiers.some((s) => s.endsWith('/src/protocol/node-api.ts'))).toBe(true);
    expect(specifiers.some((s) => s.endsWith('/gpu-node/index.ts'))).toBe(true);
  });
});

describe('the layering scanner', () => {
  it('finds every kind of import, across lines, and not the ones in comments', () => {
    const source = [
      "import a from './a.ts';",
      "import type { B } from '../b.ts';",
      'import {',
      '  c,',
      '  d,',
      "} from 'pkg-c';",
      "import * as e from 'node:e';",
      "import json from '../package.json' with { type: 'json' };",
      "export { f } from './f.ts';",
      "export * from './g.ts';",
      "import './side-effect.ts';",
      "const h = await import('./h.ts');",
      "// import nope from 'commented-out';",
      "const i = 'import from nowhere';",
    ].join('\n');
    expect(importSpecifiers(source).sort()).toEqual(
      [
        './a.ts',
        '../b.ts',
        'pkg-c',
        'node:e',
        '../package.json',
        './f.ts',
        './g.ts',
        './side-effect.ts',
        './h.ts',
      ].sort(),
    );
  });

  it('reports each offending file and specifier, and lets allowed imports through', () => {
    const violations = layerViolations([
      {
        path: 'src/routing/policy.ts',
        source: [
          "import { z } from 'zod';",
          "import { x } from '../bytes.ts';",
          "import { Hono } from 'hono';",
          "import { readFile } from 'node:fs';",
          "import { DurableObject } from 'cloudflare:workers';",
          "import type { Env } from '../../workers/gateway/config.ts';",
        ].join('\n'),
      },
      {
        path: 'workers/gateway/app.ts',
        source:
          "import { Hono } from 'hono';\nimport '../../src/bytes.ts';\nimport('../../scripts/start.ts');",
      },
      {
        path: 'gpu-node/agent.ts',
        source: "import pkg from '../package.json';\nexport * from '../workers/objects/stubs.ts';",
      },
      {
        path: 'scripts/start.ts',
        source:
          "import { pickPort } from '../gpu-node/index.ts';\nimport { sleep } from '../gpu-node/backoff.ts';",
      },
      {
        path: 'bench/run.ts',
        source:
          "import '../scripts/bundle.ts';\nimport '../gpu-node/index.ts';\nimport '../workers/gateway/index.ts';",
      },
    ]);
    expect(violations).toEqual([
      "src/routing/policy.ts → 'hono' (package not allowed in src/)",
      "src/routing/policy.ts → 'node:fs' (package not allowed in src/)",
      "src/routing/policy.ts → 'cloudflare:workers' (package not allowed in src/)",
      "src/routing/policy.ts → '../../workers/gateway/config.ts' (resolves to workers/gateway/config.ts)",
      "workers/gateway/app.ts → '../../scripts/start.ts' (resolves to scripts/start.ts)",
      "gpu-node/agent.ts → '../workers/objects/stubs.ts' (resolves to workers/objects/stubs.ts)",
      "scripts/start.ts → '../gpu-node/backoff.ts' (resolves to gpu-node/backoff.ts)",
      "bench/run.ts → '../workers/gateway/index.ts' (resolves to workers/gateway/index.ts)",
    ]);
  });
});
