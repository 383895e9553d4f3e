/**
 * `npm run build:agent`: the agent, simulator included, as what a GPU owner installs without
 * this repository, TypeScript, or any dependency:
 *   dist/gpu-node/gpu-node.mjs           one executable ES module (esbuild bundle) for Node ≥ 20.15
 *   dist/gpu-node/package.json           the npm package around it: `@switchyard/gpu-node`, bin `gpu-node`
 *   dist/gpu-node/README.md              docs/gpu-node.md
 *   dist/switchyard-gpu-node-<v>.tgz     that package packed: `npm install -g ./switchyard-gpu-node-<v>.tgz`
 */
import { execFile } from 'node:child_process';
import { builtinModules } from 'node:module';
import { chmod, copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { MIN_NODE_VERSION } from './node-version.ts';
import { AGENT_VERSION } from './version.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PACKAGE_NAME = '@switchyard/gpu-node';

/**
 * The bundle is an ES module, but some dependencies are CommonJS and `require` Node's own
 * modules; an ES module has no `require` unless it makes one.
 */
const BANNER = [
  '#!/usr/bin/env node',
  "import { createRequire as __gpuNodeCreateRequire } from 'node:module';",
  'const require = __gpuNodeCreateRequire(import.meta.url);',
].join('\n');

/** gpu-node/version.ts reads the version from the repository's package.json: bundle the version alone. */
const versionOnly: Plugin = {
  name: 'agent-version-only',
  setup(builder) {
    const rootPackage = join(ROOT, 'package.json');
    builder.onLoad({ filter: /[\\/]package\.json$/ }, (args) =>
      args.path === rootPackage
        ? { contents: `export default ${JSON.stringify({ version: AGENT_VERSION })};`, loader: 'js' }
        : undefined,
    );
  },
};

/**
 * Node's own modules, loaded with `require` where they are used rather than imported by name.
 * An ES module's named imports are checked before any of its code runs, so one API an old Node
 * lacks (`zlib.crc32`, say) would fail the whole file with a SyntaxError before the version
 * check in main.ts could say what is wrong; as CommonJS, a missing API fails only where used.
 */
const builtinsByRequire: Plugin = {
  name: 'node-builtins-by-require',
  setup(builder) {
    const builtin = new RegExp(`^(node:)?(${builtinModules.join('|').replaceAll('/', '\\/')})$`);
    builder.onResolve({ filter: builtin }, (args) =>
      // The stand-in's own `require` is left to Node.
      args.namespace === 'node-builtin'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'node-builtin' },
    );
    builder.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

export interface BuiltAgent {
  /** The executable single-file agent. */
  bundle: string;
  /** The npm package tarball. */
  tarball: string;
}

export async function buildAgent(distDir = join(ROOT, 'dist')): Promise<BuiltAgent> {
  const packageDir = join(distDir, 'gpu-node');
  await rm(packageDir, { recursive: true, force: true });
  await mkdir(packageDir, { recursive: true });
  const bundle = join(packageDir, 'gpu-node.mjs');
  await build({
    entryPoints: [join(ROOT, 'gpu-node/main.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: BANNER },
    plugins: [versionOnly, builtinsByRequire],
    logLevel: 'warning',
  });
  await chmod(bundle, 0o755);
  const manifest = {
    name: PACKAGE_NAME,
    version: AGENT_VERSION,
    description:
      'Switchyard GPU node agent: supervises local inference engines and proxies the gateway to them',
    type: 'module',
    bin: { 'gpu-node': 'gpu-node.mjs' },
    engines: { node: `>=${MIN_NODE_VERSION}` },
    files: ['gpu-node.mjs', 'README.md'],
  };
  await writeFile(join(packageDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await copyFile(join(ROOT, 'docs/gpu-node.md'), join(packageDir, 'README.md'));
  const { stdout } = await promisify(execFile)('npm', ['pack', '--json', '--pack-destination', distDir], {
    cwd: packageDir,
  });
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  return { bundle, tarball: join(distDir, filename) };
}

// Run as a script (`npm run build:agent`), not when a test imports buildAgent.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { bundle, tarball } = await buildAgent();
  const { size } = await stat(bundle);
  process.stdout.write(
    `built ${bundle} (${Math.round(size / 1024)} KiB) and ${tarball}\n` +
      `install: npm install -g ${tarball}   or copy ${dirname(bundle)}/gpu-node.mjs anywhere and run it\n`,
  );
}
