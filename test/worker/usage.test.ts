/**
 * Usage metering end to end: what each call costs (the engine's reported usage, or for a cut
 * stream the prompt estimate plus the chunks relayed), the usage chunk the gateway asks for on
 * a client's behalf and hides again, and the admin usage API in JSON and CSV.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  ADMIN,
  call,
  createKeyRecord,
  engine,
  fakeNodeLog,
  keyInflight,
  poolSnapshot,
  rawChat,
  registerNode,
  uniqueModel,
  usageOfKey,
  usageTotals,
} from './helpers.ts';

async function servedBy(behaviour: string, label: string): Promise<string> {
  const model = uniqueModel(label);
  await registerNode([engine(behaviour, model)]);
  return model;
}

/** A chat body and the gateway's prompt estimate for it: ceil(bytes / 4). */
function body(fields: Record<string, unknown>): { text: string; estimate: number } {
  const text = JSON.stringify({ messages: [{ role: 'user', content: 'count me' }], ...fields });
  return { text, estimate: Math.ceil(new TextEncoder().encode(text).byteLength / 4) };
}

/** The data events of an SSE body, parsed (`[DONE]` as the string). */
function sseData(text: string): unknown[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length))
    .map((data) => (data === '[DONE]' ? data : JSON.parse(data)));
}

const isUsageOnly = (event: unknown) =>
  typeof event === 'object' &&
  event !== null &&
  Array.isArray((event as { choices?: unknown[] }).choices) &&
  (event as { choices: unknown[] }).choices.length === 0 &&
  'usage' in event;

/** Waits until the key's usage (flushed by alarm every USAGE_FLUSH_MS) shows `requests` calls. */
async function settledUsage(keyId: string, requests: number) {
  await vi.waitFor(async () => expect((await usageTotals(keyId)).requests).toBe(requests), {
    timeout: 5_000,
    interval: 50,
  });
  return usageTotals(keyId);
}

describe('usage metering', () => {
  it('records a non-stream call with the tokens the engine reported', async () => {
    const model = await servedBy('ok', 'usage-json');
    const { id, key, tenantId } = await createKeyRecord();
    expect((await rawChat(key, body({ model }).text)).status).toBe(200);
    const totals = await settledUsage(id, 1);
    expect(totals).toMatchObject({ requests: 1, promptTokens: 3, completionTokens: 2, clientErrors: 0 });
    const [row] = await usageOfKey(id);
    expect(row).toMatchObject({ tenantId, keyId: id, model, requests: 1 });
    expect(await keyInflight(id)).toBe(0);
  });

  it('asks a stream for usage the client did not ask for, hides that chunk from the client, and records it', async () => {
    const model = await servedBy('ok', 'usage-stream-hidden');
    const { id, key } = await createKeyRecord();
    const res = await rawChat(key, body({ model, stream: true }).text, { 'x-request-id': `hidden-${model}` });
    expect(res.status).toBe(200);
    const events = sseData(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.filter(isUsageOnly)).toEqual([]);
    expect(events.filter((e) => typeof e === 'object' && e !== null && 'usage' in e)).toEqual([]);
    expect(events).toHaveLength(3);
    const totals = await settledUsage(id, 1);
    expect(totals).toMatchObject({ promptTokens: 3, completionTokens: 2 });
  });

  it('passes the usage chunk through to a client that asked for it, and records it', async () => {
    const model = await servedBy('ok', 'usage-stream-asked');
    const { id, key } = await createKeyRecord();
    const sent = body({ model, stream: true, stream_options: { include_usage: true } });
    const res = await rawChat(key, sent.text);
    const events = sseData(await res.text());
    const usageChunks = events.filter(isUsageOnly) as Array<{ usage: Record<string, number> }>;
    expect(usageChunks).toHaveLength(1);
    expect(usageChunks[0]!.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
    expect(events.at(-1)).toBe('[DONE]');
    expect(await settledUsage(id, 1)).toMatchObject({ promptTokens: 3, completionTokens: 2 });
  });

  it('keeps the other stream_options a client sent when it adds include_usage', async () => {
    const model = await servedBy('ok', 'usage-stream-options');
    const { key } = await createKeyRecord();
    const requestId = `options-${model}`;
    const res = await rawChat(
      key,
      body({ model, stream: true, stream_options: { continuous_usage_stats: false } }).text,
      { 'x-request-id': requestId },
    );
    const events = sseData(await res.text());
    expect(events.filter(isUsageOnly)).toEqual([]);
    expect(events.at(-1)).toBe('[DONE]');
    // What the engine got: the client's body with include_usage added beside its own option.
    const [received] = (await fakeNodeLog()).filter((r) => r.headers['x-request-id'] === requestId);
    expect(received!.json).toEqual({
      messages: [{ role: 'user', content: 'count me' }],
      model,
      stream: true,
      stream_options: { continuous_usage_stats: false, include_usage: true },
    });
  });

  it('settles a stream the client walks away from and charges the prompt estimate plus the chunks relayed', async () => {
    const model = await servedBy('hang3', 'usage-client-abort');
    const { id, key } = await createKeyRecord({ limits: { concurrency: 5 } });
    const sent = body({ model, stream: true });
    const res = await rawChat(key, sent.text);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    while (!seen.includes('"content":"three"')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended early: ${seen}`);
      seen += decoder.decode(value, { stream: true });
    }
    expect(await keyInflight(id)).toBe(1);
    await reader.cancel();
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
    const totals = await settledUsage(id, 1);
    expect(totals.aborted).toBe(1);
    expect(totals.promptTokens + totals.completionTokens).toBe(sent.estimate + 3);
    await vi.waitFor(async () => expect((await poolSnapshot(model))[0]!.inflight).toBe(0));
  });

  it('settles a stream whose engine dies mid-way and charges the prompt estimate plus the chunks relayed', async () => {
    const model = await servedBy('midstream', 'usage-engine-death');
    const { id, key } = await createKeyRecord({ limits: { concurrency: 5 } });
    const sent = body({ model, stream: true });
    const res = await rawChat(key, sent.text);
    const text = await res.text();
    expect(text).toContain('upstream_stream_interrupted');
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
    const totals = await settledUsage(id, 1);
    expect(totals.promptTokens + totals.completionTokens).toBe(sent.estimate + 2);
  });

  it('records the relayed chunks of a cut stream as completion tokens, the estimate as prompt tokens', async () => {
    const model = await servedBy('midstream', 'usage-cut-split');
    const { id, key } = await createKeyRecord();
    const sent = body({ model, stream: true });
    await (await rawChat(key, sent.text)).text();
    const totals = await settledUsage(id, 1);
    expect(totals).toMatchObject({ promptTokens: sent.estimate, completionTokens: 2 });
  });

  it('counts a stream the engine broke off as a server error in the usage tables', async () => {
    const model = await servedBy('midstream', 'usage-cut-class');
    const { id, key } = await createKeyRecord();
    await (await rawChat(key, body({ model, stream: true }).text)).text();
    expect(await settledUsage(id, 1)).toMatchObject({ serverErrors: 1 });
  });

  it('charges nothing for a call the client left before the first byte, and frees its slot', async () => {
    const model = await servedBy('silent', 'usage-abort-early');
    const { id, key } = await createKeyRecord({ limits: { concurrency: 1 } });
    const client = new AbortController();
    const pending = rawChat(key, body({ model }).text, {}, client.signal).catch((e: unknown) => e);
    await vi.waitFor(async () => expect((await poolSnapshot(model))[0]!.inflight).toBe(1));
    expect(await keyInflight(id)).toBe(1);
    client.abort();
    await pending;
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
    const totals = await settledUsage(id, 1);
    expect(totals).toMatchObject({ aborted: 1, promptTokens: 0, completionTokens: 0 });
  });

  it('counts refusals as rate limited and charges them nothing', async () => {
    const model = await servedBy('ok', 'usage-refused');
    const { id, key } = await createKeyRecord({ limits: { rpm: 1 } });
    expect((await rawChat(key, body({ model }).text)).status).toBe(200);
    expect((await rawChat(key, body({ model }).text)).status).toBe(429);
    expect((await rawChat(key, body({ model }).text)).status).toBe(429);
    expect(await settledUsage(id, 3)).toMatchObject({
      rateLimited: 2,
      promptTokens: 3,
      completionTokens: 2,
    });
  });

  it('sums per minute, hour and day, and filters by model and time', async () => {
    const a = await servedBy('ok', 'usage-gran-a');
    const b = await servedBy('ok', 'usage-gran-b');
    const { id, key, tenantId } = await createKeyRecord();
    for (const model of [a, a, b]) expect((await rawChat(key, body({ model }).text)).status).toBe(200);
    await settledUsage(id, 3);
    const query = async (params: string) => {
      const res = await call(`/admin/api/usage?tenantId=${tenantId}&${params}`, { headers: ADMIN });
      expect(res.status, params).toBe(200);
      return ((await res.json()) as { data: Array<{ model: string; requests: number; start: number }> }).data;
    };
    const byMinute = await query('granularity=minute');
    expect(byMinute.reduce((sum, r) => sum + r.requests, 0)).toBe(3);
    for (const row of byMinute) expect(row.start % 60_000).toBe(0);
    const onlyA = await query(`granularity=hour&model=${a}`);
    expect(onlyA.map((r) => [r.model, r.requests])).toEqual([[a, 2]]);
    expect(onlyA[0]!.start % 3_600_000).toBe(0);
    const past = await query(`from=0&to=${Date.now() - 3_600_000}`);
    expect(past).toEqual([]);
  });

  it('shows today at day granularity without from/to', async () => {
    const model = await servedBy('ok', 'usage-day');
    const { id, key } = await createKeyRecord();
    expect((await rawChat(key, body({ model }).text)).status).toBe(200);
    await settledUsage(id, 1);
    const res = await call(`/admin/api/usage?keyId=${id}&granularity=day`, { headers: ADMIN });
    const data = ((await res.json()) as { data: Array<{ requests: number; start: number }> }).data;
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ requests: 1, start: Math.floor(Date.now() / 86_400_000) * 86_400_000 });
  });

  it('exports CSV with a header row and one line per key, model and bucket', async () => {
    const model = await servedBy('ok', 'usage-csv');
    const { id, key, tenantId } = await createKeyRecord();
    expect((await rawChat(key, body({ model }).text)).status).toBe(200);
    await settledUsage(id, 1);
    const res = await call(`/admin/api/usage?keyId=${id}`, { headers: { ...ADMIN, accept: 'text/csv' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toContain('usage.csv');
    const lines = (await res.text()).split('\r\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    const header = lines[0]!.split(',');
    expect(header.slice(0, 4)).toEqual(['start', 'tenantId', 'keyId', 'model']);
    expect(header).toEqual(expect.arrayContaining(['requests', 'promptTokens', 'completionTokens']));
    const row = Object.fromEntries(lines[1]!.split(',').map((value, i) => [header[i], value]));
    expect(row).toMatchObject({
      tenantId,
      keyId: id,
      model,
      requests: '1',
      promptTokens: '3',
      completionTokens: '2',
    });
    expect(new Date(row.start!).toISOString()).toBe(row.start);
  });

  it('exports an empty CSV as just the header row', async () => {
    const { id } = await createKeyRecord();
    const res = await call(`/admin/api/usage?keyId=${id}`, { headers: { ...ADMIN, accept: 'text/csv' } });
    const lines = (await res.text()).split('\r\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith('start,tenantId,keyId,model,')).toBe(true);
  });
});

describe('answers the node agent metered (src/protocol/node-metering.ts)', () => {
  it('asks the agent to meter, pipes the stream as sent, and charges what the agent recorded', async () => {
    const model = await servedBy('metered', 'metered-stream');
    const { id, key } = await createKeyRecord();
    const requestId = `metered-${model}`;
    const res = await rawChat(key, body({ model, stream: true }).text, { 'x-request-id': requestId });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-metered')).toBeNull();
    const events = sseData(await res.text());
    expect(events).toHaveLength(3);
    expect(events.at(-1)).toBe('[DONE]');
    // The record's 40 + 2, not anything the stream said: the gateway collected it from the agent.
    expect(await settledUsage(id, 1)).toMatchObject({
      promptTokens: 40,
      completionTokens: 2,
      serverErrors: 0,
    });
    const [received] = (await fakeNodeLog()).filter((r) => r.headers['x-request-id'] === requestId);
    // The gateway added include_usage, so it tells the agent to strip the usage chunk again.
    expect(received!.headers['x-switchyard-meter']).toMatch(/^[0-9a-f-]{36}; strip-usage; idle-ms=\d+$/);
    expect(await keyInflight(id)).toBe(0);
  });

  it("ends a metered stream the engine broke off with the error event, and charges the agent's count", async () => {
    const model = await servedBy('metered-cut', 'metered-cut');
    const { id, key } = await createKeyRecord();
    const sent = body({ model, stream: true });
    const res = await rawChat(key, sent.text);
    const events = sseData(await res.text());
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({ error: { code: 'upstream_stream_interrupted' } });
    expect(await settledUsage(id, 1)).toMatchObject({
      promptTokens: sent.estimate,
      completionTokens: 1,
      serverErrors: 1,
    });
    expect(await keyInflight(id)).toBe(0);
  });

  it('charges a metered JSON answer by the usage header, and passes the body untouched', async () => {
    const model = await servedBy('metered-json', 'metered-json');
    const { id, key } = await createKeyRecord();
    const res = await rawChat(key, body({ model }).text);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-usage')).toBeNull();
    expect(await res.json()).toMatchObject({ usage: { prompt_tokens: 3, completion_tokens: 2 } });
    expect(await settledUsage(id, 1)).toMatchObject({ promptTokens: 30, completionTokens: 20 });
  });
});
