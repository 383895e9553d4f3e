/**
 * Admission against a key's limits, through the gateway: exact under concurrency (no request
 * over a limit ever reaches an engine), refusals that cost nothing, and the 429s and
 * rate-limit headers OpenAI's clients read.
 */
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { EXPIRE_AFTER_MS } from '../../src/limits/hold-renewal.ts';
import { Limiter, type LimiterSnapshot } from '../../src/limits/limiter.ts';
import { apiKey } from '../../workers/objects/stubs.ts';
import {
  chat,
  createKeyRecord,
  engine,
  errorOf,
  fakeNodeLoad,
  keyInflight,
  poolSnapshot,
  rawChat,
  registerLiveNode,
  registerNode,
  releaseHeld,
  uniqueModel,
  usageTotals,
} from './helpers.ts';

/** Room in the pool for every request a test sends, so only the key's limits refuse. */
const ROOMY = { maxConcurrency: 1000 };

/** A chat body of a known size, so the gateway's reservation is known: ceil(bytes / 4) + maxTokens. */
function fixedBody(model: string, maxTokens: number): { body: string; reservation: number } {
  const body = JSON.stringify({
    model,
    max_tokens: maxTokens,
    messages: [{ role: 'user', content: 'x'.repeat(100) }],
  });
  return { body, reservation: Math.ceil(new TextEncoder().encode(body).byteLength / 4) + maxTokens };
}

async function servedBy(behaviour: string, label: string): Promise<string> {
  const model = uniqueModel(label);
  await registerNode([engine(behaviour, model, ROOMY)]);
  return model;
}

interface Outcome {
  status: number;
  code: string | null;
  param: string | null;
  type: string | null;
  headers: Headers;
}

async function outcomeOf(res: Response): Promise<Outcome> {
  if (res.status === 200) {
    await res.arrayBuffer();
    return { status: 200, code: null, param: null, type: null, headers: res.headers };
  }
  const error = await errorOf(res);
  return { status: res.status, code: error.code, param: error.param, type: error.type, headers: res.headers };
}

/**
 * Sends `count` copies of `body` at once to a `hold` engine's model, waits until every refusal
 * is back and the admitted ones are parked at the fake node, checks what the fake node holds,
 * then lets them finish. Returns every outcome.
 */
async function burstAgainstHold(key: string, model: string, body: string, count: number, admitted: number) {
  const outcomes: Outcome[] = [];
  const pending = Array.from({ length: count }, () =>
    rawChat(key, body)
      .then(outcomeOf)
      .then((o) => (outcomes.push(o), o)),
  );
  await vi.waitFor(
    async () => {
      expect(outcomes.length).toBe(count - admitted);
      expect((await fakeNodeLoad(model)).current).toBe(admitted);
    },
    { timeout: 20_000, interval: 50 },
  );
  const atPeak = await fakeNodeLoad(model);
  await releaseHeld(model);
  await Promise.all(pending);
  return { outcomes, atPeak };
}

function tally(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const name = o.status === 200 ? '200' : `${o.status} ${o.code}${o.param ? ` ${o.param}` : ''}`;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Moves the key's limiter state `seconds` into the past, as if that much time had gone by. */
async function ageLimiter(keyId: string, seconds: number): Promise<void> {
  await runInDurableObject(apiKey(env, keyId), (instance) => {
    const holder = instance as unknown as { limiter: Limiter };
    const snapshot: LimiterSnapshot = holder.limiter.snapshot();
    for (const bucket of snapshot.buckets) bucket.second -= seconds;
    for (const reservation of snapshot.reservations) reservation.at -= seconds * 1000;
    holder.limiter = new Limiter(snapshot);
  });
}

const secondsToNextUtcMidnight = () =>
  ((Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000) / 1000 - Date.now() / 1000;

describe('exact admission under concurrency', () => {
  it('admits exactly rpm requests out of 300 sent at once and refuses the rest with 429 rate_limit_exceeded', async () => {
    const rpm = 50;
    const { id, key } = await createKeyRecord({ limits: { rpm } });
    const model = await servedBy('ok', 'rpm-burst');
    const { body } = fixedBody(model, 16);
    const outcomes = await Promise.all(Array.from({ length: 300 }, () => rawChat(key, body).then(outcomeOf)));
    expect(tally(outcomes)).toEqual({ '200': rpm, '429 rate_limit_exceeded rpm': 300 - rpm });
    expect((await fakeNodeLoad(model)).arrived).toBe(rpm);
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
  });

  it('admits exactly `concurrency` requests of a simultaneous burst and never lets more reach the engine', async () => {
    const concurrency = 5;
    const { id, key } = await createKeyRecord({ limits: { concurrency } });
    const model = await servedBy('hold', 'concurrency-burst');
    const { body } = fixedBody(model, 16);
    const { outcomes, atPeak } = await burstAgainstHold(key, model, body, 200, concurrency);
    expect(tally(outcomes)).toEqual({ '200': concurrency, '429 rate_limit_exceeded concurrency': 195 });
    expect(atPeak).toEqual({ current: concurrency, peak: concurrency, arrived: concurrency });
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
  });

  it('keeps at most `concurrency` requests at the engine while clients keep retrying as slots free', async () => {
    const concurrency = 3;
    const { id, key } = await createKeyRecord({ limits: { concurrency } });
    const model = uniqueModel('concurrency-churn');
    // This one runs for more than a second: the node must keep reporting to stay healthy.
    const live = await registerLiveNode([engine('hold', model, ROOMY)]);
    const { body } = fixedBody(model, 16);
    const wanted = 30;
    let admitted = 0;
    let refused = 0;
    let done = false;
    // Answers the parked requests a few at a time while 12 clients keep asking.
    const releaser = (async () => {
      while (!done) {
        await releaseHeld(model);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        while (admitted < wanted) {
          const outcome = await outcomeOf(await rawChat(key, body));
          if (outcome.status === 200) admitted++;
          else {
            expect(outcome).toMatchObject({ status: 429, code: 'rate_limit_exceeded', param: 'concurrency' });
            refused++;
          }
        }
      }),
    );
    done = true;
    await releaser;
    await live.stop();
    const load = await fakeNodeLoad(model);
    expect(load.peak).toBeLessThanOrEqual(concurrency);
    expect(load.arrived).toBe(admitted);
    expect(refused).toBeGreaterThan(0);
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
  });

  it('admits exactly floor(tpm / reservation) requests when each reserves a known number of tokens', async () => {
    const model = await servedBy('hold', 'tpm-burst');
    const { body, reservation } = fixedBody(model, 40);
    const fits = 7;
    const tpm = fits * reservation + reservation - 1;
    const { id, key } = await createKeyRecord({ limits: { tpm } });
    const { outcomes } = await burstAgainstHold(key, model, body, 120, fits);
    expect(tally(outcomes)).toEqual({ '200': fits, '429 rate_limit_exceeded tpm': 120 - fits });
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
  });

  it('refuses with 429 insufficient_quota once the day quota is spent, retry-after at the next UTC midnight', async () => {
    const model = await servedBy('hold', 'day-quota');
    const { body, reservation } = fixedBody(model, 40);
    const { id, key } = await createKeyRecord({ limits: { tokensPerDay: 3 * reservation + 10 } });
    const { outcomes } = await burstAgainstHold(key, model, body, 40, 3);
    expect(tally(outcomes)).toEqual({ '200': 3, '429 insufficient_quota': 37 });
    const refusal = outcomes.find((o) => o.status === 429)!;
    expect(refusal.type).toBe('insufficient_quota');
    expect(refusal.param).toBeNull();
    const retryAfter = Number(refusal.headers.get('retry-after'));
    expect(Math.abs(retryAfter - secondsToNextUtcMidnight())).toBeLessThan(5);
    const retryAfterMs = Number(refusal.headers.get('retry-after-ms'));
    expect(Math.ceil(retryAfterMs / 1000)).toBe(retryAfter);
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
  });

  it('settles the day quota to the real usage: what the engine did not use can be spent again', async () => {
    const model = await servedBy('ok', 'day-quota-settled');
    const { body, reservation } = fixedBody(model, 40);
    // Room for one reservation; the engine reports 5 tokens, which leaves room for... not a second.
    const { id, key } = await createKeyRecord({ limits: { tokensPerDay: reservation + 4 } });
    expect((await rawChat(key, body)).status).toBe(200);
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
    const second = await rawChat(key, body);
    expect(second.status).toBe(429);
    expect((await errorOf(second)).code).toBe('insufficient_quota');
    // With room for the 5 used plus one reservation, the next one fits.
    const roomy = await createKeyRecord({ limits: { tokensPerDay: reservation + 5 } });
    expect((await rawChat(roomy.key, body)).status).toBe(200);
    await vi.waitFor(async () => expect(await keyInflight(roomy.id)).toBe(0));
    expect((await rawChat(roomy.key, body)).status).toBe(200);
  });

  it('refuses with insufficient_quota once the month quota is spent, retry-after at the next month', async () => {
    const model = await servedBy('hold', 'month-quota');
    const { body, reservation } = fixedBody(model, 40);
    const { id, key } = await createKeyRecord({ limits: { tokensPerMonth: 2 * reservation } });
    const { outcomes } = await burstAgainstHold(key, model, body, 20, 2);
    expect(tally(outcomes)).toEqual({ '200': 2, '429 insufficient_quota': 18 });
    const now = new Date();
    const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    const retryAfter = Number(outcomes.find((o) => o.status === 429)!.headers.get('retry-after'));
    expect(Math.abs(retryAfter - (nextMonth - Date.now()) / 1000)).toBeLessThan(5);
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
  });
});

describe("requests larger than the key's minute", () => {
  it('refuses a request whose own reservation can never fit tpm with 429 request_too_large, forwarding nothing', async () => {
    const model = await servedBy('ok', 'too-large');
    const { body, reservation } = fixedBody(model, 2000);
    const { id, key } = await createKeyRecord({ limits: { tpm: reservation - 1 } });
    const res = await rawChat(key, body);
    expect(res.status).toBe(429);
    expect(await errorOf(res)).toMatchObject({ code: 'request_too_large', param: 'max_tokens' });
    expect((await fakeNodeLoad(model)).arrived).toBe(0);
    expect(await keyInflight(id)).toBe(0);
  });

  it('shrinks the default completion reservation to the key tpm instead of refusing', async () => {
    const model = await servedBy('ok', 'shrunk');
    const tpm = 500; // under DEFAULT_COMPLETION_TOKENS
    const { id, key } = await createKeyRecord({ limits: { tpm } });
    const first = await chat(key, { model });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
    // Settled to the 5 tokens used: 495 left, less than the next default reservation.
    const second = await chat(key, { model });
    expect(second.status).toBe(429);
    expect(await errorOf(second)).toMatchObject({ code: 'rate_limit_exceeded', param: 'tpm' });
    expect(second.headers.get('x-ratelimit-remaining-tokens')).toBe(String(tpm - 5));
  });
});

describe('a refused request costs nothing', () => {
  it('frees nothing it did not take: after concurrency refusals the next request is admitted and rpm is untouched', async () => {
    const model = await servedBy('hold', 'refusal-free');
    const { body } = fixedBody(model, 16);
    const { id, key } = await createKeyRecord({ limits: { concurrency: 1, rpm: 2 } });
    const first = rawChat(key, body);
    await vi.waitFor(async () => expect((await fakeNodeLoad(model)).current).toBe(1));
    const refused = await Promise.all(Array.from({ length: 10 }, () => rawChat(key, body).then(outcomeOf)));
    expect(tally(refused)).toEqual({ '429 rate_limit_exceeded concurrency': 10 });
    expect(await keyInflight(id)).toBe(1);
    await releaseHeld(model);
    expect((await first).status).toBe(200);
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));

    // The ten refusals took no rpm: the second request of the minute still fits.
    const second = rawChat(key, body);
    await vi.waitFor(async () => expect((await fakeNodeLoad(model)).current).toBe(1));
    await releaseHeld(model);
    const admitted = await second;
    expect(admitted.status).toBe(200);
    expect(admitted.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
    const third = await outcomeOf(await rawChat(key, body));
    expect(third).toMatchObject({ status: 429, code: 'rate_limit_exceeded', param: 'rpm' });
  });

  it('takes no tokens for a request refused by tpm, so a smaller one still fits', async () => {
    const model = await servedBy('hold', 'tpm-refusal-free');
    const big = fixedBody(model, 400);
    const small = fixedBody(model, 10);
    const { id, key } = await createKeyRecord({ limits: { tpm: big.reservation + small.reservation - 1 } });
    const first = rawChat(key, big.body);
    await vi.waitFor(async () => expect((await fakeNodeLoad(model)).current).toBe(1));
    for (let i = 0; i < 5; i++) {
      expect(await outcomeOf(await rawChat(key, big.body))).toMatchObject({ status: 429, param: 'tpm' });
    }
    expect(await outcomeOf(await rawChat(key, small.body))).toMatchObject({ status: 429, param: 'tpm' });
    expect(await keyInflight(id)).toBe(1);
    await releaseHeld(model);
    expect((await first).status).toBe(200);
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
    // Settled to the engine's 5 tokens: the small one fits now.
    const next = rawChat(key, small.body);
    await vi.waitFor(async () => expect((await fakeNodeLoad(model)).current).toBe(1));
    await releaseHeld(model);
    expect((await next).status).toBe(200);
  });
});

describe('429 answers and rate-limit headers', () => {
  it('answers an rpm refusal in the OpenAI shape with retry-after, retry-after-ms and x-ratelimit-*', async () => {
    const model = await servedBy('ok', 'rpm-429');
    const { body, reservation } = fixedBody(model, 16);
    const { key } = await createKeyRecord({ limits: { rpm: 2, tpm: 100_000 } });
    for (let i = 0; i < 2; i++) expect((await rawChat(key, body)).status).toBe(200);
    const res = await rawChat(key, body);
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toContain('application/json');
    const parsed = (await res.json()) as { error: Record<string, unknown> };
    expect(Object.keys(parsed)).toEqual(['error']);
    expect(parsed.error).toEqual({
      message: expect.stringMatching(/requests per minute/),
      type: 'rate_limit_error',
      param: 'rpm',
      code: 'rate_limit_exceeded',
    });
    const retryAfter = Number(res.headers.get('retry-after'));
    const retryAfterMs = Number(res.headers.get('retry-after-ms'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    // A minute's window: counted in whole seconds, a request can hold its place for at most 61 s.
    expect(retryAfter).toBeLessThanOrEqual(61);
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(Math.ceil(retryAfterMs / 1000)).toBe(retryAfter);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(res.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+ms|(\d+m)?\d+(\.\d+)?s)$/);
    expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('100000');
    // Both admitted calls have settled to 5 tokens each, or still hold their reservation.
    const remaining = Number(res.headers.get('x-ratelimit-remaining-tokens'));
    expect(remaining).toBeGreaterThanOrEqual(100_000 - 2 * reservation);
    expect(remaining).toBeLessThanOrEqual(100_000 - 10);
  });

  it('tells the truth in retry-after: refused just before it, admitted once it has passed', async () => {
    const model = await servedBy('ok', 'retry-after-truth');
    const { body } = fixedBody(model, 16);
    const { id, key } = await createKeyRecord({ limits: { rpm: 3 } });
    for (let i = 0; i < 3; i++) expect((await rawChat(key, body)).status).toBe(200);
    const refused = await rawChat(key, body);
    expect(refused.status).toBe(429);
    const retryAfterMs = Number(refused.headers.get('retry-after-ms'));
    // Just under the promised wait (a second early, in whole seconds): still refused.
    await ageLimiter(id, Math.floor(retryAfterMs / 1000) - 1);
    expect((await rawChat(key, body)).status).toBe(429);
    // After it: admitted.
    await ageLimiter(id, 2);
    expect((await rawChat(key, body)).status).toBe(200);
  });

  it('puts x-ratelimit-* on a non-stream success', async () => {
    const model = await servedBy('ok', 'headers-json');
    const { body, reservation } = fixedBody(model, 16);
    const { key } = await createKeyRecord({ limits: { rpm: 10, tpm: 50_000 } });
    const res = await rawChat(key, body);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('10');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('9');
    expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('50000');
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe(String(50_000 - reservation));
    expect(res.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+ms|(\d+m)?\d+(\.\d+)?s)$/);
    expect(res.headers.get('x-ratelimit-reset-tokens')).toMatch(/^(\d+ms|(\d+m)?\d+(\.\d+)?s)$/);
    expect(res.headers.get('retry-after')).toBeNull();
  });

  it('puts x-ratelimit-* on the headers of a streamed success', async () => {
    const model = await servedBy('ok', 'headers-stream');
    const { key } = await createKeyRecord({ limits: { rpm: 10, tpm: 50_000 } });
    const res = await chat(key, { model, stream: true, max_tokens: 16 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('10');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('9');
    expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('50000');
    expect(res.headers.get('x-ratelimit-reset-tokens')).not.toBeNull();
    await res.text();
  });

  it('puts x-ratelimit-* on errors after admission: gateway 404, engine 4xx and engine 5xx', async () => {
    const { key } = await createKeyRecord({ limits: { rpm: 10, tpm: 50_000 } });
    const nobody = await chat(key, { model: uniqueModel('nobody') });
    expect(nobody.status).toBe(404);
    expect((await errorOf(nobody)).code).toBe('model_not_found');
    expect(nobody.headers.get('x-ratelimit-limit-requests')).toBe('10');
    expect(nobody.headers.get('x-ratelimit-remaining-requests')).toBe('9');

    const rejecting = await servedBy('reject400', 'headers-400');
    const rejected = await chat(key, { model: rejecting });
    expect(rejected.status).toBe(400);
    expect(rejected.headers.get('x-ratelimit-remaining-requests')).toBe('8');
    await rejected.arrayBuffer();

    const failing = await servedBy('fail500', 'headers-500');
    const failed = await chat(key, { model: failing });
    expect(failed.status).toBe(500);
    expect(failed.headers.get('x-ratelimit-remaining-requests')).toBe('7');
    expect(failed.headers.get('x-ratelimit-limit-tokens')).toBe('50000');
    await failed.arrayBuffer();
    await vi.waitFor(async () => expect((await poolSnapshot(failing))[0]!.inflight).toBe(0));
  });

  it('sends no x-ratelimit-* for limits the key does not have', async () => {
    const model = await servedBy('ok', 'headers-none');
    const { key } = await createKeyRecord({ limits: { concurrency: 4 } });
    const res = await chat(key, { model });
    expect(res.status).toBe(200);
    const names = [...res.headers.keys()].filter((name) => name.startsWith('x-ratelimit-'));
    expect(names).toEqual([]);
  });

  it('answers a concurrency refusal with retry-after and the x-ratelimit-* of the limits set', async () => {
    const model = await servedBy('hold', 'concurrency-429');
    const { body } = fixedBody(model, 16);
    const { key } = await createKeyRecord({ limits: { concurrency: 1, rpm: 100 } });
    const first = rawChat(key, body);
    await vi.waitFor(async () => expect((await fakeNodeLoad(model)).current).toBe(1));
    const res = await rawChat(key, body);
    expect(res.status).toBe(429);
    expect(await errorOf(res)).toMatchObject({
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
      param: 'concurrency',
    });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(res.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('100');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('99');
    await releaseHeld(model);
    expect((await first).status).toBe(200);
  });
});

describe('reservations whose renewals stop', () => {
  it('reaps a silent reservation, and still counts the call when it settles late', async () => {
    const model = await servedBy('hold', 'reaped-late');
    const { body } = fixedBody(model, 16);
    const { id, key } = await createKeyRecord({ limits: { concurrency: 1 } });
    const held = rawChat(key, body);
    await vi.waitFor(async () => expect((await fakeNodeLoad(model)).current).toBe(1));
    expect(await keyInflight(id)).toBe(1);

    // Its renewals stopped reaching the key (as when the Worker died): the alarm takes it back.
    await runInDurableObject(apiKey(env, id), (instance) => {
      const holder = instance as unknown as { limiter: Limiter };
      const snapshot: LimiterSnapshot = holder.limiter.snapshot();
      for (const reservation of snapshot.reservations) reservation.aliveAt = Date.now() - EXPIRE_AFTER_MS - 1;
      holder.limiter = new Limiter(snapshot);
    });
    expect(await runDurableObjectAlarm(apiKey(env, id))).toBe(true);
    expect(await keyInflight(id)).toBe(0);

    // The call lived on after all: its settlement still reaches the key's usage, once.
    await releaseHeld(model);
    expect((await held).status).toBe(200);
    await vi.waitFor(async () => expect((await usageTotals(id)).requests).toBe(1));
    expect(
      await apiKey(env, id).settleRequests([{ ...lateSettlement(model), reservationId: 'never-made' }]),
    ).toBe(0);
  });
});

function lateSettlement(model: string) {
  const usage = { promptTokens: 1, completionTokens: 1, cachedTokens: 0 };
  return { model, status: 200, aborted: false, usage, fallback: usage, ttftMs: null, durationMs: 1 };
}
