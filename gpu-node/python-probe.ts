/**
 * Whether a Python interpreter can import a module, without importing it (`find_spec` reads no
 * CUDA, loads no torch): how `check` tells a python3 with SGLang or LMDeploy from one without,
 * and how `init` finds the right one.
 */
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';

export function pythonCanImport(python: string, module: string, timeoutMs = 20_000): Promise<boolean> {
  const program = `import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(${JSON.stringify(module)}) else 3)`;
  return new Promise((resolve) => {
    execFile(python, ['-c', program], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error) =>
      resolve(error === null),
    );
  });
}

/**
 * The interpreter a pip console script runs under (`#!/opt/venv/bin/python3` on its first line),
 * or null: `lmdeploy` or `sglang` on PATH names the Python that has them even when that
 * Python's own directory is not on PATH (pipx, a venv linked into /usr/local/bin).
 */
export async function scriptInterpreter(script: string): Promise<string | null> {
  const handle = await open(script, 'r').catch(() => null);
  if (!handle) return null;
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(256), 0, 256, 0);
    const match = /^#!(\/\S*python[\d.]*)\s*\n/.exec(buffer.toString('utf8', 0, bytesRead));
    return match?.[1] ?? null;
  } finally {
    await handle.close();
  }
}
