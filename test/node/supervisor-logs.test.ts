import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineLog } from '../../gpu-node/engine-logs.ts';
import { makeTempDir, removeTempDirs } from '../support/throwaway-engine.ts';
import { waitFor } from '../support/wait-for.ts';

afterAll(removeTempDirs);

describe('EngineLog', () => {
  it('keeps the last 50 whole lines per stream without splicing stdout into stderr', async () => {
    const log = new EngineLog(makeTempDir('logs'), 'e1');
    const [stdout, stderr] = [new PassThrough(), new PassThrough()];
    log.follow(stdout);
    log.follow(stderr);
    stdout.write('half of a ');
    stderr.write('error line\n');
    stdout.write('line\n');
    await waitFor('both lines kept', () => log.lastLines().length === 2);
    expect(log.lastLines()).toEqual(['error line', 'half of a line']);
    for (let i = 0; i < 60; i += 1) stdout.write(`line ${i}\n`);
    stdout.end('unterminated tail');
    await waitFor('tail kept', () => log.lastLines().at(-1) === 'unterminated tail');
    expect(log.lastLines()).toHaveLength(50);
    expect(log.lastLines()[0]).toBe('line 11');
    await log.close();
    expect(readFileSync(log.path, 'utf8')).toMatch(/line 59\nunterminated tail$/);
  });

  it('caps each line at 2,000 characters and returns only the newest lines that fit a budget', async () => {
    const log = new EngineLog(makeTempDir('logs'), 'e1');
    const stream = new PassThrough();
    log.follow(stream);
    stream.write(`${'x'.repeat(5_000)}\nshort one\nshort two\n`);
    await waitFor('lines kept', () => log.lastLines().length === 3);
    expect(log.lastLines()[0]).toHaveLength(2_000);
    expect(log.lastLines(20)).toEqual(['short one', 'short two']);
    expect(log.lastLines(10)).toEqual(['short two']);
    await log.close();
  });
});
