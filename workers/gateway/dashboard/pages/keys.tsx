/** @jsxImportSource hono/jsx */
/** Keys: a tenant's keys, and a new one (its full key shown once, with a copy button). */
import { Hono, type Context } from 'hono';
import { adminApi } from '../admin-api.ts';
import { Notice, Pill, ShownOnce, Table, Time, CsrfField, type Tone } from '../components.tsx';
import type { DashboardEnv } from '../env.ts';
import { field, keyBody, type Form } from '../forms.ts';
import { formatLimits } from '../format.ts';
import { renderPage } from '../layout.tsx';
import type { CreatedKey, KeyView, List, Tenant } from '../types.ts';
import { formError, FormErrorNotice, LimitFields, ModelsField, type FormError } from './shared.tsx';

export const keysRoutes = new Hono<DashboardEnv>();

keysRoutes.get('/dashboard/keys', function listKeys(c) {
  return renderKeys(c, { tenantId: c.req.query('tenant'), revoked: c.req.query('revoked') });
});

keysRoutes.post('/dashboard/keys', async function createKey(c) {
  const form = (await c.req.parseBody()) as Form;
  const tenantId = field(form, 'tenant');
  try {
    const created = await adminApi(c).send<CreatedKey>(
      'POST',
      `/tenants/${encodeURIComponent(tenantId)}/keys`,
      keyBody(form),
    );
    return await renderKeys(c, { tenantId, created });
  } catch (error) {
    const invalid = formError(error);
    if (!invalid) throw error;
    return renderKeys(c, { tenantId, form, error: invalid });
  }
});

export const KEY_STATUS_TONE: Record<KeyView['status'], Tone> = {
  active: 'ok',
  revoked: 'bad',
  expired: 'idle',
};

async function renderKeys(
  c: Context<DashboardEnv>,
  state: { tenantId?: string; created?: CreatedKey; form?: Form; error?: FormError; revoked?: string },
): Promise<Response> {
  const api = adminApi(c);
  const session = c.get('session');
  const { data: tenants } = await api.get<List<Tenant>>('/tenants');
  const tenantId =
    state.tenantId || (session.caller.kind === 'tenant' ? session.caller.tenantId : tenants[0]?.id);
  if (!tenantId) {
    return renderPage(
      c,
      { title: 'Keys', section: 'keys' },
      <Notice>
        There are no tenants yet. <a href="/dashboard/tenants">Create a tenant</a> first; keys belong to one.
      </Notice>,
    );
  }
  const { data: keys } = await api.get<List<KeyView>>(`/tenants/${encodeURIComponent(tenantId)}/keys`);
  const tenant = tenants.find((t) => t.id === tenantId);
  const origin = new URL(c.req.url).origin;

  const tenantPicker =
    session.caller.kind === 'operator' ? (
      <form method="get" action="/dashboard/keys" data-autosubmit="">
        <label class="inline">
          Tenant
          <select name="tenant">
            {tenants.map((t) => (
              <option value={t.id} selected={t.id === tenantId}>
                {t.name}
              </option>
            ))}
          </select>
          <noscript>
            <button type="submit" class="secondary small">
              Show
            </button>
          </noscript>
        </label>
      </form>
    ) : undefined;

  return renderPage(
    c,
    {
      title: tenant ? `Keys of ${tenant.name}` : 'Keys',
      section: 'keys',
      aside: tenantPicker,
      status: state.created ? 201 : state.error ? 400 : 200,
    },
    <>
      {state.created ? (
        <ShownOnce
          id="new-key"
          label={`New ${state.created.kind === 'admin' ? 'tenant admin key' : 'API key'} “${state.created.name}”`}
          value={state.created.key}
          what="full key"
        />
      ) : null}
      {state.created && state.created.kind === 'api' ? (
        <p class="small muted">
          Use it as the API key of any OpenAI client, with the base URL <code>{`${origin}/v1`}</code>.
        </p>
      ) : null}
      {state.revoked ? (
        <Notice tone="ok">
          Key <code>{state.revoked.slice(0, 8)}</code> is revoked: its next request gets 401.
        </Notice>
      ) : null}
      <section class="panel">
        <Table
          id="key-list"
          empty="This tenant has no keys yet."
          actions
          columns={[
            { label: 'Name' },
            { label: 'Key' },
            { label: 'Models' },
            { label: 'Limits' },
            { label: 'Created' },
            { label: 'Last used' },
            { label: 'Status' },
          ]}
          rows={keys.map((key) => [
            <span>
              <a href={`/dashboard/keys/${encodeURIComponent(key.id)}`}>{key.name}</a>
              {key.kind === 'admin' ? <span class="muted small"> · admin</span> : null}
            </span>,
            <code class="nowrap">{`sk-${key.id.slice(0, 8)}…`}</code>,
            <ModelTags models={key.effectiveModels} own={key.models !== null} />,
            <span class="small">{formatLimits(key.effectiveLimits)}</span>,
            <Time at={key.createdAt} />,
            <Time at={key.lastUsedAt} />,
            <Pill tone={KEY_STATUS_TONE[key.status]}>{key.status}</Pill>,
            <a class="button secondary small" href={`/dashboard/keys/${encodeURIComponent(key.id)}`}>
              Manage
            </a>,
          ])}
        />
      </section>
      <details class="panel" open={state.error !== undefined || keys.length === 0}>
        <summary>Create a key</summary>
        <form method="post" action="/dashboard/keys" class="stack">
          <CsrfField token={session.csrf} />
          <input type="hidden" name="tenant" value={tenantId} />
          <FormErrorNotice error={state.error} />
          <div class="form-grid">
            <label class={state.error?.param === 'name' ? 'field-error' : undefined}>
              Name
              <input
                name="name"
                required
                maxlength={128}
                value={state.form ? field(state.form, 'name') : ''}
              />
            </label>
            <label>
              Kind
              <select name="kind">
                <option value="api">API key (/v1 calls)</option>
                <option value="admin" selected={state.form ? field(state.form, 'kind') === 'admin' : false}>
                  Tenant admin key (admin API, dashboard)
                </option>
              </select>
            </label>
            <label class={state.error?.param === 'expiresAt' ? 'field-error' : undefined}>
              <span>
                Expires <span class="hint">(UTC, optional)</span>
              </span>
              <input
                type="datetime-local"
                name="expiresAt"
                value={state.form ? field(state.form, 'expiresAt') : ''}
              />
            </label>
            <ModelsField
              form={state.form}
              error={state.error}
              hint="one per line or comma; empty: the tenant’s defaults"
            />
          </div>
          <fieldset>
            <legend>Limits and quotas (empty: the tenant’s default, or none)</legend>
            <div class="form-grid">
              <LimitFields form={state.form} error={state.error} placeholder={tenant?.defaults.limits} />
            </div>
          </fieldset>
          <div class="buttons">
            <button type="submit">Create key</button>
          </div>
        </form>
      </details>
    </>,
  );
}

export function ModelTags({ models, own }: { models: string[] | null; own: boolean }) {
  if (models === null) return <span class="muted small">all</span>;
  return (
    <span>
      {models.map((model) => (
        <span class="tag">{model}</span>
      ))}
      {own ? null : <span class="muted small">(tenant default)</span>}
    </span>
  );
}
