/**
 * One API key's authoritative record and admission state, one object per key id. Every
 * forwarded call makes one RPC here, `admitRequest`, that authenticates, checks the model
 * allow-list and admits against the key's limits; since every edge location asks this same
 * object, limits are exact and a revocation holds from the next request on. Settlements come
 * back off the request path, carried by a later admission or together (`settleRequests`), and
 * usage is batched to the tenant's usage object by alarm rather than written per request.
 */
import { DurableObject } from 'cloudflare:workers';
import {
  keyAllowsModel,
  keyLimits,
  keyModels,
  keyStatus,
  keyView,
  secretAccepted,
  type KeyKind,
  type KeyRecord,
  type KeyView,
  type TenantDefaults,
} from '../../src/keys/key-record.ts';
import { EXPIRE_AFTER_MS } from '../../src/limits/hold-renewal.ts';
import { Limiter, type LimiterSnapshot, type RateLimitStatus } from '../../src/limits/limiter.ts';
import type { LimitName } from '../../src/limits/limits.ts';
import { addUsageEvent, classifyCall, USAGE_COUNTERS, type UsageRow } from '../../src/usage/rollup.ts';
import type { Usage } from '../../src/usage/usage.ts';
import { gatewayConfig } from '../gateway/config.ts';
import { GroupCommit } from './group-commit.ts';
import { tenantUsage } from './stubs.ts';

export type AuthFailure = 'invalid_key' | 'revoked_key' | 'expired_key';
export type Authentication =
  | { ok: true; keyId: string; tenantId: string; kind: KeyKind; models: string[] | null }
  | { ok: false; reason: AuthFailure };

export interface AdmitInput {
  secretHash: string;
  model: string;
  /** Chosen by the caller, so it can settle even if this call's answer never arrives. */
  reservationId: string;
  /** Tokens to reserve: the prompt estimate plus the completion cap. */
  tokens: number;
  /** The request names its completion cap (`max_tokens` …); else `tokens` holds a default. */
  capped: boolean;
  /** Earlier calls of this key that ended, carried along (ride-along.ts): settled first. */
  settlements?: Settlement[];
}

export type Admission =
  | {
      ok: true;
      keyId: string;
      tenantId: string;
      status: RateLimitStatus;
      /** The only node owners whose engines may serve the call; null: any. */
      trustedOwners: string[] | null;
    }
  | { ok: false; reason: AuthFailure | 'not_an_api_key' }
  | { ok: false; reason: 'model_not_allowed'; tenantId: string }
  | { ok: false; reason: 'request_too_large'; tenantId: string; tokens: number; tpm: number }
  | {
      ok: false;
      reason: 'rate_limited';
      tenantId: string;
      limit: LimitName;
      retryAfterMs: number;
      status: RateLimitStatus;
    };

export interface Settlement {
  reservationId: string;
  model: string;
  status: number;
  aborted: boolean;
  /** What the engine reported; null when it reported nothing usable. */
  usage: Usage | null;
  /** What to count when `usage` is null: the prompt estimate and the completion chunks relayed. */
  fallback: Usage;
  ttftMs: number | null;
  durationMs: number;
}

/** Reaped reservation ids kept for a late settlement. */
const MAX_REAPED_KEPT = 1_000;

export type KeyPatch = Partial<Pick<KeyRecord, 'name' | 'models' | 'limits' | 'expiresAt'>>;

/** The state the request path changes; written in batches (group-commit.ts). */
type HotState = 'limiter' | 'pending_usage' | 'reaped';

export class ApiKey extends DurableObject<Env> {
  private record: KeyRecord | null = null;
  private tenant: TenantDefaults = {};
  private limiter = new Limiter();
  private pendingUsage = new Map<string, UsageRow>();
  /** Reservations reaped lately, oldest first: their late settlement still counts the call. */
  private reaped = new Set<string>();
  /** When the alarm is set to fire, kept here so the hot path never reads it from storage. */
  private alarmAt: number | null = null;
  /** Hot state is written once per batch of calls (group-commit.ts). */
  private readonly hotState = new GroupCommit<HotState>((name) => this.saveHot(name));

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(
        'CREATE TABLE IF NOT EXISTS key_state (name TEXT PRIMARY KEY, data TEXT NOT NULL)',
      );
      this.record = this.load<KeyRecord>('record');
      this.tenant = this.load<TenantDefaults>('tenant') ?? {};
      this.limiter = new Limiter(this.load<LimiterSnapshot>('limiter') ?? undefined);
      for (const row of this.load<UsageRow[]>('pending_usage') ?? []) {
        this.pendingUsage.set(`${row.start}|${row.keyId}|${row.model}`, row);
      }
      this.reaped = new Set(this.load<string[]>('reaped') ?? []);
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** Stores a new key's record; called once by the Directory. */
  initialize(record: KeyRecord, tenant: TenantDefaults): KeyView {
    if (this.record) throw new Error(`key ${record.keyId} already exists`);
    this.record = record;
    this.tenant = tenant;
    this.save('record', record);
    this.save('tenant', tenant);
    return keyView(record, tenant, Date.now());
  }

  /** For routes that only need to know who is calling (`GET /v1/models`, tenant admin keys). */
  authenticate(secretHash: string): Authentication {
    const record = this.record;
    const now = Date.now();
    if (!record || !secretAccepted(record, secretHash, now)) return { ok: false, reason: 'invalid_key' };
    const status = keyStatus(record, now);
    if (status !== 'active')
      return { ok: false, reason: status === 'revoked' ? 'revoked_key' : 'expired_key' };
    return {
      ok: true,
      keyId: record.keyId,
      tenantId: record.tenantId,
      kind: record.kind,
      models: keyModels(record, this.tenant),
    };
  }

  /**
   * Authenticates, checks the model, and admits against the key's limits: the one call on the
   * path. Settlements it carries are applied first — a call that ended frees its share before
   * this one is judged — and the answer waits for the write that holds them, whatever it says.
   */
  async admitRequest(input: AdmitInput): Promise<Admission> {
    const settled = this.settle(input.settlements ?? []);
    const admission = await this.admit(input);
    await settled;
    return admission;
  }

  private async admit(input: AdmitInput): Promise<Admission> {
    const who = this.authenticate(input.secretHash);
    if (!who.ok) return who;
    const record = this.record!;
    if (record.kind !== 'api') return { ok: false, reason: 'not_an_api_key' };
    if (!keyAllowsModel(record, this.tenant, input.model)) {
      return { ok: false, reason: 'model_not_allowed', tenantId: record.tenantId };
    }
    const now = Date.now();
    const limits = keyLimits(record, this.tenant);
    // A default completion reservation shrinks to fit the key's minute; a cap the client named does not.
    const tokens = input.capped ? input.tokens : Math.min(input.tokens, limits.tpm ?? Infinity);
    if (limits.tpm !== undefined && tokens > limits.tpm) {
      await this.recordCall(now, input.model, {
        status: 429,
        aborted: false,
        usage: null,
        ttftMs: null,
        durationMs: 0,
      });
      return { ok: false, reason: 'request_too_large', tenantId: record.tenantId, tokens, tpm: limits.tpm };
    }
    const admitted = this.limiter.admit({ id: input.reservationId, tokens, now }, limits);
    record.lastUsedAt = now;
    if (!admitted.ok) {
      await this.recordCall(now, input.model, {
        status: 429,
        aborted: false,
        usage: null,
        ttftMs: null,
        durationMs: 0,
      });
      return {
        ok: false,
        reason: 'rate_limited',
        tenantId: record.tenantId,
        limit: admitted.limit,
        retryAfterMs: admitted.retryAfterMs,
        status: admitted.status,
      };
    }
    await Promise.all([this.hotState.persist('limiter'), this.ensureAlarm(now + EXPIRE_AFTER_MS)]);
    return {
      ok: true,
      keyId: record.keyId,
      tenantId: record.tenantId,
      status: admitted.status,
      trustedOwners: this.tenant.trustedOwners ?? null,
    };
  }

  /**
   * The call holding `reservationId` is still going (the gateway says so every few seconds);
   * false once it was settled or reaped. Stored, so a restart of this object does not reap it.
   */
  async renewReservation(reservationId: string): Promise<boolean> {
    if (!this.limiter.renew(reservationId, Date.now())) return false;
    await this.hotState.persist('limiter');
    return true;
  }

  /** Settlements no admission carried (ride-along.ts): how many counted. */
  settleRequests(settlements: Settlement[]): Promise<number> {
    return this.settle(settlements);
  }

  /** Open reservations, for tests and the admin API. */
  inflight(): number {
    return this.limiter.inflight();
  }

  describe(): KeyView | null {
    return this.record ? keyView(this.record, this.tenant, Date.now()) : null;
  }

  update(patch: KeyPatch): KeyView {
    const record = this.mustExist();
    Object.assign(record, patch);
    this.save('record', record);
    return keyView(record, this.tenant, Date.now());
  }

  setTenantDefaults(tenant: TenantDefaults): void {
    this.tenant = tenant;
    this.save('tenant', tenant);
  }

  /** A new secret for the same id; the old one works for `graceMs` more (0: dead at once). */
  rotate(secretHash: string, graceMs: number): KeyView {
    const record = this.mustExist();
    const now = Date.now();
    record.previousSecretHash = graceMs > 0 ? record.secretHash : null;
    record.previousValidUntil = graceMs > 0 ? now + graceMs : null;
    record.secretHash = secretHash;
    this.save('record', record);
    return keyView(record, this.tenant, now);
  }

  revoke(): KeyView {
    const record = this.mustExist();
    record.revokedAt ??= Date.now();
    this.save('record', record);
    return keyView(record, this.tenant, Date.now());
  }

  /** Reaps reservations whose calls stopped renewing them, flushes batched usage to the tenant. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    const reaped = this.limiter.reapSilentSince(now - EXPIRE_AFTER_MS, now);
    if (reaped.length > 0) {
      this.save('limiter', this.limiter.snapshot());
      for (const id of reaped) this.reaped.add(id);
      // The newest are the ones whose calls may still settle.
      for (const id of this.reaped) {
        if (this.reaped.size <= MAX_REAPED_KEPT) break;
        this.reaped.delete(id);
      }
      this.save('reaped', [...this.reaped]);
    }
    await this.flushUsage();
    if (this.record) this.save('record', this.record); // persists lastUsedAt, which admission keeps in memory
    if (this.limiter.inflight() > 0) await this.ensureAlarm(now + EXPIRE_AFTER_MS);
  }

  /**
   * Turns reservations into the tokens really used and counts the calls, in memory at once, then
   * waits for the write that holds them. Idempotent: a reservation settled already counts
   * nothing. A call whose reservation was reaped (its renewals stopped reaching this object, yet
   * it lived on) is still counted in usage; the limiter keeps what it reserved.
   */
  private async settle(settlements: readonly Settlement[]): Promise<number> {
    const now = Date.now();
    let counted = 0;
    for (const settlement of settlements) {
      const usage = settlement.usage ?? settlement.fallback;
      const tokens = usage.promptTokens + usage.completionTokens;
      // Both join the write awaited below.
      if (this.limiter.settle(settlement.reservationId, tokens, now)) void this.hotState.persist('limiter');
      else if (this.reaped.delete(settlement.reservationId)) void this.hotState.persist('reaped');
      else continue;
      this.countCall(now, settlement.model, { ...settlement, usage });
      counted++;
    }
    if (counted === 0) return 0;
    await this.usageWritten(now);
    return counted;
  }

  /** Counts a refused call in usage, and waits for the write that holds it. */
  private async recordCall(
    at: number,
    model: string,
    call: Pick<Settlement, 'status' | 'aborted' | 'usage' | 'ttftMs' | 'durationMs'>,
  ): Promise<void> {
    this.countCall(at, model, call);
    await this.usageWritten(at);
  }

  /** Waits for the write that holds calls counted at `at`, and for the alarm that will flush them. */
  private async usageWritten(at: number): Promise<void> {
    await Promise.all([
      this.hotState.persist('pending_usage'),
      this.ensureAlarm(at + gatewayConfig(this.env).usageFlushMs),
    ]);
  }

  private countCall(
    at: number,
    model: string,
    call: Pick<Settlement, 'status' | 'aborted' | 'usage' | 'ttftMs' | 'durationMs'>,
  ): void {
    addUsageEvent(this.pendingUsage, {
      at,
      keyId: this.record!.keyId,
      model,
      callClass: classifyCall(call.status, call.aborted),
      promptTokens: call.usage?.promptTokens ?? 0,
      completionTokens: call.usage?.completionTokens ?? 0,
      cachedTokens: call.usage?.cachedTokens ?? 0,
      ttftMs: call.ttftMs,
      durationMs: call.durationMs,
    });
  }

  /**
   * Sends the batched rows to the tenant's usage object. Rows added while the call is out go
   * into the next batch; a batch whose send failed is merged back and retried.
   */
  private async flushUsage(): Promise<void> {
    if (this.pendingUsage.size === 0 || !this.record) return;
    const batch = this.pendingUsage;
    this.pendingUsage = new Map();
    try {
      await tenantUsage(this.env, this.record.tenantId).recordUsage([...batch.values()]);
    } catch (err) {
      console.error(`usage flush for key ${this.record.keyId} failed; retrying`, err);
      for (const [id, row] of batch) mergeRow(this.pendingUsage, id, row);
      await this.ensureAlarm(Date.now() + gatewayConfig(this.env).usageFlushMs);
    }
    this.save('pending_usage', [...this.pendingUsage.values()]);
  }

  /** Makes sure an alarm fires no later than `at`. */
  private async ensureAlarm(at: number): Promise<void> {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  private mustExist(): KeyRecord {
    if (!this.record) throw new Error('no such key');
    return this.record;
  }

  private load<T>(name: string): T | null {
    const row = this.ctx.storage.sql
      .exec<{ data: string }>('SELECT data FROM key_state WHERE name = ?', name)
      .toArray()[0];
    return row ? (JSON.parse(row.data) as T) : null;
  }

  /** Saves one piece of hot state; the group commit calls it in its batch's turn. */
  private saveHot(name: HotState): void {
    if (name === 'limiter') this.save(name, this.limiter.snapshot());
    else if (name === 'pending_usage') this.save(name, [...this.pendingUsage.values()]);
    else this.save(name, [...this.reaped]);
  }

  private save(name: string, value: unknown): void {
    this.ctx.storage.sql.exec(
      // An upsert writes one row; INSERT OR REPLACE writes two (the row and its key index).
      'INSERT INTO key_state (name, data) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET data = excluded.data',
      name,
      JSON.stringify(value),
    );
  }
}

function mergeRow(rows: Map<string, UsageRow>, id: string, row: UsageRow): void {
  const existing = rows.get(id);
  if (!existing) return void rows.set(id, row);
  for (const counter of USAGE_COUNTERS) existing[counter] += row[counter];
}
