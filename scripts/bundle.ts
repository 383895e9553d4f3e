/**
 * Bundles the Worker exactly as `wrangler deploy` would, without deploying: the same esbuild
 * settings, so what runs under `npm start` is what runs on Cloudflare.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { StartError } from './start-error.ts';

export interface Bundle {
  dir: string;
  /** Module files relative to `dir`, main module first. */
  modules: string[];
  bytes: number;
  ms: number;
}

/** Files wrangler writes beside the modules that the runtime does not load. */
const NOT_MODULES = new Set(['.map', '.md']);

export async function bundleWorker(root: string, outDir: string, main: string): Promise<Bundle> {
  const started = Date.now();
  // Stale modules from an earlier bundle would otherwise be embedded too.
  fs.rmSync(outDir, { recursive: true, force: true });
  const wrangler = path.join(root, 'node_modules', '.bin', 'wrangler');
  if (!fs.existsSync(wrangler)) throw new StartError('wrangler is not installed: run `npm install` first');

  const output = await run(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', outDir], root);
  if (output.code !== 0) {
    throw new StartError(
      `wrangler could not bundle the Worker (exit code ${output.code}):\n${output.text.trimEnd()}`,
    );
  }

  const files = fs
    .readdirSync(outDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !NOT_MODULES.has(path.extname(entry.name)))
    .map((entry) => path.relative(outDir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
  const mainModule = `${path.basename(main, path.extname(main))}.js`;
  if (!files.includes(mainModule)) {
    throw new StartError(
      `wrangler wrote no ${mainModule} to ${outDir} (found: ${files.join(', ') || 'nothing'})`,
    );
  }
  const modules = [mainModule, ...files.filter((file) => file !== mainModule).sort()];
  const bytes = modules.reduce((sum, file) => sum + fs.statSync(path.join(outDir, file)).size, 0);
  return { dir: outDir, modules, bytes, ms: Date.now() - started };
}

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; text: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('error', (cause) => reject(new StartError('could not run wrangler', { cause })));
    child.once('close', (code) => resolve({ code, text }));
  });
}
