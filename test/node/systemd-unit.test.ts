/**
 * The unit `gpu-node install-service` writes passes `systemd-analyze verify` with nothing to
 * say: a comment after a value, say, only earns a warning and exit 0, so the output must be
 * empty too. The config lives under a path with a space and a `%`, which the unit must escape.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { findExecutable } from '../../gpu-node/check.ts';
import { GPU_NODE_BIN, writeConfig } from '../support/agent-process.ts';
import { makeTempDir, removeTempDirs } from '../support/throwaway-engine.ts';

afterAll(removeTempDirs);

const run = promisify(execFile);

describe('gpu-node install-service', () => {
  it('writes a unit that systemd-analyze verify accepts without a word', async () => {
    const systemdAnalyze = await findExecutable('systemd-analyze');
    if (!systemdAnalyze)
      throw new Error('systemd-analyze is missing: apt-get install -y systemd (.ci/run does)');
    const dir = join(makeTempDir('unit'), 'gpu node 100%');
    mkdirSync(dir);
    const config = writeConfig(dir, {
      gateway: { url: 'https://gw.example.com', nodeToken: 'snt-unittest.0123456789abcdef0123456789abcdef' },
      node: { name: 'box', publicUrl: 'http://10.0.0.5:8100' },
      drainTimeoutMs: 30_000,
      engines: [{ kind: 'sim', model: 'demo', port: 8001 }],
    });
    const unitPath = join(dir, 'gpu-node.service');
    const installed = await run(process.execPath, [
      GPU_NODE_BIN,
      'install-service',
      '--config',
      config,
      '--user',
      'gpu-node',
      '--output',
      unitPath,
    ]);
    expect(installed.stdout).toContain('systemctl daemon-reload && systemctl enable --now gpu-node');

    const verified = await run(systemdAnalyze, ['verify', unitPath]);
    expect(verified.stdout + verified.stderr).toBe('');

    const unit = readFileSync(unitPath, 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} ${GPU_NODE_BIN} start --config "`);
    expect(unit).toContain('/gpu node 100%%/gpu-node.yaml"');
    expect(unit).toContain(`WorkingDirectory=${dir.replace('%', '%%')}\n`);
    expect(unit).toMatch(/^User=gpu-node$/m);
    expect(unit).toMatch(/^KillMode=mixed$/m);
    expect(unit).toMatch(/^RestartPreventExitStatus=2 3$/m);
    expect(unit).toMatch(/^TimeoutStopSec=90$/m);
    const settings = unit.split('\n').filter((line) => /^\w+=/.test(line));
    expect(settings.filter((line) => line.includes('#'))).toEqual([]);
  });
});
