/**
 * The Worker bundle stays small only while every module it bundles takes zod as a namespace
 * (`import * as z`). zod's `{ z }` and its default export are a re-exported namespace, which
 * esbuild cannot tree-shake: one such import brings back zod's whole classic build and its
 * 40-odd locales, about 550 KiB (docs/decisions/0007-worker-bundle-size.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** What wrangler bundles into the Worker: the gateway and the core it imports. */
const BUNDLED = ['src', 'workers'];

/** `import … from 'zod…'` or from the zod-mini module, type-only imports excepted: [clause, specifier]. */
const ZOD_IMPORT =
  /^[ \t]*import\s+(?!type\s)([^'";]*?)\s*from\s*['"](zod(?:\/[^'"]*)?|[^'"]*\/zod-mini\.ts)['"]/gm;

/** Each import in `source` that takes zod's namespace by name or as the default export. */
function unshakableZodImports(source: string): string[] {
  return [...source.matchAll(ZOD_IMPORT)]
    .filter(([, clause]) => /^\w/.test(clause!) || /\{[^}]*\bz\b/.test(clause!))
    .map(([statement]) => statement.trim());
}

function sourceFiles(dir: string): Array<{ path: string; source: string }> {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(relative);
    if (!/\.tsx?$/.test(entry.name)) return [];
    return [{ path: relative, source: readFileSync(path.join(ROOT, relative), 'utf8') }];
  });
}

describe('zod imports in the Worker bundle', () => {
  const files = BUNDLED.flatMap((dir) => sourceFiles(dir));

  it('takes zod as a namespace in every bundled module, never `{ z }` or the default export', () => {
    const offending = files.flatMap((file) =>
      unshakableZodImports(file.source).map((statement) => `${file.path}: ${statement}`),
    );
    expect(offending, `zod imported so esbuild cannot shake it:\n  ${offending.join('\n  ')}\n`).toEqual([]);
  });

  it('finds the zod imports there are (so the check above cannot pass by finding none)', () => {
    const namespaceImports = files.filter((file) => /import \* as z from /.test(file.source));
    expect(namespaceImports.length).toBeGreaterThan(5);
  });

  it('tells shakable imports from unshakable ones', () => {
    const source = [
      "import { z } from 'zod';",
      "import z from 'zod/mini';",
      "import zod, { z as schema } from 'zod';",
      "import zod from 'zod';",
      "import { config, z } from '../zod-mini.ts';",
      "import * as z from 'zod';",
      "import * as z from '../../src/zod-mini.ts';",
      "import type { z } from 'zod';",
      "import { config } from 'zod/mini';",
      "import { en } from 'zod/locales';",
      "import { zoo } from 'zod';",
    ].join('\n');
    expect(unshakableZodImports(source)).toEqual([
      "import { z } from 'zod'",
      "import z from 'zod/mini'",
      "import zod, { z as schema } from 'zod'",
      "import zod from 'zod'",
      "import { config, z } from '../zod-mini.ts'",
    ]);
  });
});
