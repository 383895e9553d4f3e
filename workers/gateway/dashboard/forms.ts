/**
 * Form fields turned into admin API bodies. Nothing is validated here beyond shape: the admin
 * API's own schemas judge the values, and their message (naming the field) goes back to the form.
 */
import { LIMIT_NAMES } from '../../../src/limits/limits.ts';

export type Form = Record<string, string | File | Array<string | File>>;

export function field(form: Form, name: string): string {
  const value = form[name];
  return typeof value === 'string' ? value.trim() : '';
}

/** One model (or `prefix*`) per line or comma; none: null (the tenant's defaults). */
export function parseModels(text: string): string[] | null {
  const models = text
    .split(/[\n,]/)
    .map((model) => model.trim())
    .filter((model) => model.length > 0);
  return models.length > 0 ? models : null;
}

/** The limits filled in; a value that is not a whole number is passed on for the API to refuse by name. */
export function parseLimits(form: Form, prefix = ''): Record<string, number | string> {
  const limits: Record<string, number | string> = {};
  for (const name of LIMIT_NAMES) {
    const value = field(form, `${prefix}${name}`).replaceAll(/[\s_,]/g, '');
    if (value !== '') limits[name] = /^\d+$/.test(value) ? Number(value) : value;
  }
  return limits;
}

/** A `datetime-local` value, read as UTC (the dashboard shows every time in UTC); '' is null. */
export function parseInstant(value: string): number | string | null {
  if (value === '') return null;
  const at = Date.parse(/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(value) ? `${value}Z` : value);
  return Number.isNaN(at) ? value : at;
}

export function keyBody(form: Form): Record<string, unknown> {
  const expiresAt = parseInstant(field(form, 'expiresAt'));
  return {
    name: field(form, 'name'),
    kind: field(form, 'kind') || 'api',
    models: parseModels(field(form, 'models')),
    limits: parseLimits(form),
    ...(expiresAt === null ? {} : { expiresAt }),
  };
}

/** A change to a key: the expiry is sent only when it was changed (an expired key's is in the past). */
export function keyPatch(form: Form): Record<string, unknown> {
  const expiry = field(form, 'expiresAt');
  return {
    name: field(form, 'name'),
    models: parseModels(field(form, 'models')),
    limits: parseLimits(form),
    ...(expiry === field(form, 'expiresAtWas') ? {} : { expiresAt: parseInstant(expiry) }),
  };
}

export function tenantDefaults(form: Form): { limits: Record<string, number | string>; models?: string[] } {
  const models = parseModels(field(form, 'models'));
  return { limits: parseLimits(form), ...(models ? { models } : {}) };
}

/** A node token: its name and scope (owner, models it may serve, per-engine concurrency). */
export function nodeTokenBody(form: Form): Record<string, unknown> {
  const owner = field(form, 'owner');
  const maxConcurrency = field(form, 'maxConcurrency');
  return {
    name: field(form, 'name'),
    ...(owner ? { owner } : {}),
    models: parseModels(field(form, 'models')) ?? [],
    ...(maxConcurrency
      ? { maxConcurrency: /^\d+$/.test(maxConcurrency) ? Number(maxConcurrency) : maxConcurrency }
      : {}),
  };
}
