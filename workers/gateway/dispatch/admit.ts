/**
 * The API-key door of every forwarded call: one RPC to the key's object authenticates,
 * checks the model against the key's allow-list and admits the call against its limits,
 * reserving its estimated tokens. Refusals become the errors OpenAI's clients expect; an
 * admitted call gets a reservation, renewed while the call lives, that `settleCall` must close
 * on every path. A settlement rides along with the key's next admission in this isolate
 * (ride-along.ts), or goes with others a few milliseconds later.
 */
import { parseCredential, sha256Hex, bearerToken } from '../../../src/credentials.ts';
import { rateLimitHeaders, retryAfterHeaders } from '../../../src/limits/headers.ts';
import type { LimitName } from '../../../src/limits/limits.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import type { Admission, Settlement } from '../../objects/api-key.ts';
import { apiKey, callWithRetry } from '../../objects/stubs.ts';
import { keyIdIssuedHere } from '../gateway-secret.ts';
import type { EngineLeases } from './engine-leases.ts';
import { keepRenewing } from './renewal.ts';
import { RideAlong, deliverCarried } from './ride-along.ts';

/** Settlements of each key's calls, waiting for the key's next admission in this isolate to carry them. */
const settlements = new RideAlong<Settlement>(5);

export interface Admitted {
  keyId: string;
  tenantId: string;
  reservationId: string;
  /** x-ratelimit-* for every answer to this call. */
  headers: Record<string, string>;
  /** Stops renewing the reservation and lets the request end: `settleCall` calls it. */
  closeReservation: () => void;
}

/**
 * The API key of a request, parsed; 401 when there is none or it is not shaped like one. Routes
 * whose clients send it as `x-api-key` (Anthropic's SDKs) pass that header too; it wins.
 */
export async function presentedApiKey(
  env: Env,
  authorization: string | undefined,
  xApiKey?: { value: string | undefined },
): Promise<{ id: string; secret: string }> {
  const token = xApiKey?.value?.trim() || bearerToken(authorization);
  if (!token) {
    const how = xApiKey
      ? '`x-api-key: sk-…` or `Authorization: Bearer sk-…`'
      : '`Authorization: Bearer sk-…`';
    throw new ApiError(401, `Missing API key: send it as ${how}.`, { code: 'missing_api_key' });
  }
  const credential = parseCredential(token);
  // A key this gateway never made is refused here, before any body is read or object asked.
  if (credential?.kind !== 'apiKey' || !(await keyIdIssuedHere(env, credential.id))) throw invalidKey();
  return credential;
}

/**
 * Admits a call. `leases`: the call's leases, told which node owners the tenant trusts; when
 * the first pick already went out alongside admission, a refusal (or a failure to ask) gives
 * that lease back unused.
 */
export async function admitCall(
  env: Env,
  ctx: { waitUntil(promise: Promise<unknown>): void },
  key: { id: string; secret: string },
  call: { model: string; tokens: number; capped: boolean },
  leases?: EngineLeases,
): Promise<Admitted> {
  const reservationId = crypto.randomUUID();
  const keyObject = apiKey(env, key.id);
  // The request stays alive until the call is settled. Once its client leaves, workerd ends a
  // request as soon as nothing is pending in `waitUntil`, cancelling the very work that would
  // notice the client left and settle the call (its reservation would wait to be reaped).
  let endHold!: () => void;
  ctx.waitUntil(new Promise<void>((resolve) => (endHold = resolve)));
  const secretHash = await sha256Hex(key.secret);
  const carried = settlements.take(key.id);
  const answer = keyObject.admitRequest({
    secretHash,
    model: call.model,
    reservationId,
    tokens: call.tokens,
    capped: call.capped,
    settlements: carried,
  });
  deliverCarried(ctx, answer, carried, (batch) => sendSettlements(env, key.id, batch));
  let admission: Admission;
  try {
    admission = await answer;
  } catch (err) {
    endHold();
    // Not a refusal: the key may prefetch again on its next call.
    leases?.abandon(0);
    throw err;
  }
  if (!admission.ok) {
    endHold();
    leases?.abandon(admission.reason === 'rate_limited' ? admission.retryAfterMs : undefined);
    throw refusal(admission, call.model);
  }
  leases?.restrictTo(admission.trustedOwners);
  const stopRenewing = keepRenewing(`reservation ${reservationId}`, () =>
    keyObject.renewReservation(reservationId),
  );
  return {
    keyId: admission.keyId,
    tenantId: admission.tenantId,
    reservationId,
    headers: rateLimitHeaders(admission.status),
    closeReservation: () => {
      stopRenewing();
      endHold();
    },
  };
}

/**
 * Closes a reservation off the request path; settling twice changes nothing. The promise is for
 * `waitUntil`: it ends once the settlement is sent or handed to an admission carrying it.
 */
export function settleCall(
  env: Env,
  admitted: Admitted,
  settlement: Omit<Settlement, 'reservationId'>,
): Promise<void> {
  admitted.closeReservation();
  const { keyId, reservationId } = admitted;
  return settlements.wait(keyId, { ...settlement, reservationId }, (batch) =>
    sendSettlements(env, keyId, batch),
  );
}

async function sendSettlements(env: Env, keyId: string, batch: Settlement[]): Promise<void> {
  try {
    await callWithRetry(() => apiKey(env, keyId).settleRequests(batch));
  } catch (err) {
    // Their renewals have stopped: the key's object reaps them, settled with the reserved tokens.
    const ids = batch.map((s) => s.reservationId).join(', ');
    console.error(`could not settle reservations ${ids} of key ${keyId}`, err);
  }
}

export function invalidKey(): ApiError {
  return new ApiError(401, 'Incorrect API key provided.', { code: 'invalid_api_key' });
}

function refusal(admission: Extract<Admission, { ok: false }>, model: string): ApiError {
  switch (admission.reason) {
    case 'invalid_key':
      return invalidKey();
    case 'revoked_key':
      return new ApiError(401, 'This API key has been revoked.', { code: 'invalid_api_key' });
    case 'expired_key':
      return new ApiError(401, 'This API key has expired.', { code: 'invalid_api_key' });
    case 'not_an_api_key':
      return new ApiError(401, 'This is a tenant admin key: it opens the admin API only.', {
        code: 'invalid_api_key',
      });
    case 'model_not_allowed':
      return new ApiError(403, `This API key may not use the model \`${model}\`.`, {
        param: 'model',
        code: 'model_not_allowed',
      });
    case 'request_too_large':
      return new ApiError(
        429,
        `Request too large: it may use ${admission.tokens} tokens and this key's limit is ${admission.tpm} tokens per minute. Lower max_tokens or shorten the prompt.`,
        { code: 'request_too_large', param: 'max_tokens' },
      );
    case 'rate_limited':
      return limitError(admission.limit, admission.retryAfterMs, {
        ...rateLimitHeaders(admission.status),
        ...retryAfterHeaders(admission.retryAfterMs),
      });
  }
}

const LIMIT_WORDS: Record<LimitName, string> = {
  rpm: 'requests per minute',
  tpm: 'tokens per minute',
  concurrency: 'concurrent requests',
  tokensPerDay: 'tokens per day',
  tokensPerMonth: 'tokens per month',
};

function limitError(limit: LimitName, retryAfterMs: number, headers: Record<string, string>): ApiError {
  const seconds = Math.ceil(retryAfterMs / 1000);
  if (limit === 'tokensPerDay' || limit === 'tokensPerMonth') {
    return new ApiError(
      429,
      `You exceeded this key's quota of ${LIMIT_WORDS[limit]}; it renews in ${seconds} s.`,
      {
        type: 'insufficient_quota',
        code: 'insufficient_quota',
        headers,
      },
    );
  }
  return new ApiError(
    429,
    `Rate limit reached for ${LIMIT_WORDS[limit]} on this key. Try again in ${seconds} s.`,
    {
      code: 'rate_limit_exceeded',
      param: limit,
      headers,
    },
  );
}
