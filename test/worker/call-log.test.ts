import { afterEach, describe, expect, it, vi } from 'vitest';
import { chat, createApiKey, engine, registerNode, uniqueModel } from './helpers.ts';

interface CallLine {
  msg: string;
  requestId: string;
  model: string;
  engine: string | null;
  attempts: number;
  status: number;
  outcome: string;
  code: string | null;
  durationMs: number;
}

/** The gateway's `forwarded` log lines for one request id. */
function callLines(spy: { mock: { calls: unknown[][] } }, requestId: string): CallLine[] {
  return spy.mock.calls
    .map((args): CallLine | null => {
      try {
        return JSON.parse(String(args[0])) as CallLine;
      } catch {
        return null;
      }
    })
    .filter((line): line is CallLine => line?.msg === 'forwarded' && line.requestId === requestId);
}

describe('the request log', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes one line per forwarded call with request id, model, engine, attempts, status and duration', async () => {
    const spy = vi.spyOn(console, 'log');
    const key = await createApiKey();
    const model = uniqueModel('logged');
    await registerNode([engine('fail500', model, { load: { running: 0, waiting: 0, kvCacheUsage: 0 } })]);
    await registerNode([engine('ok', model, { load: { running: 7, waiting: 0, kvCacheUsage: 0 } })]);
    const res = await chat(key, { model, stream: true }, { 'x-request-id': 'logged-1' });
    await res.text();
    await vi.waitFor(() => expect(callLines(spy, 'logged-1')).toHaveLength(1));
    const [line] = callLines(spy, 'logged-1');
    expect(line).toMatchObject({ model, attempts: 2, status: 200, outcome: 'ok', code: null });
    expect(line!.engine).toMatch(/\/ok$/);
    expect(line!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('writes the line for a call the gateway refuses, with the error code', async () => {
    const spy = vi.spyOn(console, 'log');
    const key = await createApiKey();
    const res = await chat(key, { model: uniqueModel('nobody-serves') }, { 'x-request-id': 'logged-2' });
    expect(res.status).toBe(404);
    expect(callLines(spy, 'logged-2')).toEqual([
      expect.objectContaining({ attempts: 0, status: 404, outcome: 'refused', code: 'model_not_found' }),
    ]);
  });
});
