/** @jsxImportSource hono/jsx */
/** One key: its details; change its name, models, limits or expiry; rotate it; revoke it. */
import { Hono, type Context } from 'hono';
import { adminApi } from '../admin-api.ts';
import { ConfirmForm, CsrfField, Notice, Pill, ShownOnce, Time } from '../components.tsx';
import type { DashboardEnv } from '../env.ts';
import { field, keyPatch, type Form } from '../forms.ts';
import { formatLimits, toDateTimeLocal } from '../format.ts';
import { renderPage } from '../layout.tsx';
import type { CreatedKey, KeyView, Tenant } from '../types.ts';
import { KEY_STATUS_TONE, ModelTags } from './keys.tsx';
import {
  formError,
  FormErrorNotice,
  LimitFields,
  ModelsField,
  renderConfirmation,
  type FormError,
} from './shared.tsx';

export const keyRoutes = new Hono<DashboardEnv>();

const keyPath = (id: string) => `/keys/${encodeURIComponent(id)}`;
const pagePath = (id: string) => `/dashboard/keys/${encodeURIComponent(id)}`;

keyRoutes.get('/dashboard/keys/:keyId', function showKey(c) {
  return renderKey(c, { saved: c.req.query('saved') !== undefined });
});

keyRoutes.post('/dashboard/keys/:keyId', async function updateKey(c) {
  const keyId = c.req.param('keyId');
  const form = (await c.req.parseBody()) as Form;
  try {
    await adminApi(c).send('PATCH', keyPath(keyId), keyPatch(form));
  } catch (error) {
    const invalid = formError(error);
    if (!invalid) throw error;
    return renderKey(c, { form, error: invalid });
  }
  return c.redirect(`${pagePath(keyId)}?saved`, 303);
});

keyRoutes.post('/dashboard/keys/:keyId/rotate', async function rotateKey(c) {
  const keyId = c.req.param('keyId');
  const form = (await c.req.parseBody()) as Form;
  const grace = Number(field(form, 'gracePeriodSeconds') || 0);
  if (field(form, 'confirmed') !== 'yes') {
    return renderConfirmation(c, {
      title: 'Rotate key',
      section: 'keys',
      message: 'Rotate this key? It gets a new secret; the old one stops working when the grace period ends.',
      action: `${pagePath(keyId)}/rotate`,
      button: 'Rotate key',
      cancel: pagePath(keyId),
      fields: { gracePeriodSeconds: String(grace) },
    });
  }
  const rotated = await adminApi(c).send<CreatedKey>('POST', `${keyPath(keyId)}/rotate`, {
    gracePeriodSeconds: grace,
  });
  return renderKey(c, { rotated });
});

keyRoutes.post('/dashboard/keys/:keyId/revoke', async function revokeKey(c) {
  const keyId = c.req.param('keyId');
  const form = (await c.req.parseBody()) as Form;
  if (field(form, 'confirmed') !== 'yes') {
    return renderConfirmation(c, {
      title: 'Revoke key',
      section: 'keys',
      message: 'Revoke this key? Its very next request gets 401; this cannot be undone.',
      action: `${pagePath(keyId)}/revoke`,
      button: 'Revoke key',
      cancel: pagePath(keyId),
    });
  }
  const view = await adminApi(c).send<KeyView>('DELETE', keyPath(keyId));
  return c.redirect(
    `/dashboard/keys?tenant=${encodeURIComponent(view.tenantId)}&revoked=${encodeURIComponent(keyId)}`,
    303,
  );
});

async function renderKey(
  c: Context<DashboardEnv>,
  state: { form?: Form; error?: FormError; rotated?: CreatedKey; saved?: boolean },
): Promise<Response> {
  const api = adminApi(c);
  const keyId = c.req.param('keyId')!;
  const key = await api.get<KeyView>(keyPath(keyId));
  const tenant = await api.get<Tenant>(`/tenants/${encodeURIComponent(key.tenantId)}`);
  const csrf = c.get('session').csrf;
  const usable = key.status === 'active';
  return renderPage(
    c,
    {
      title: `Key “${key.name}”`,
      section: 'keys',
      status: state.error ? 400 : 200,
      aside: (
        <a href={`/dashboard/keys?tenant=${encodeURIComponent(key.tenantId)}`}>← All keys of {tenant.name}</a>
      ),
    },
    <>
      {state.rotated ? (
        <ShownOnce id="new-key" label="The rotated key" value={state.rotated.key} what="new key" />
      ) : null}
      {state.saved ? <Notice tone="ok">Saved. The change holds from the key’s next request.</Notice> : null}
      <section class="panel">
        <div class="facts">
          <span>
            Status <Pill tone={KEY_STATUS_TONE[key.status]}>{key.status}</Pill>
          </span>
          <span>
            Key <code>{`sk-${key.id}.…`}</code>
          </span>
          <span>
            Kind <b>{key.kind === 'admin' ? 'tenant admin' : 'API'}</b>
          </span>
          <span>
            Created <Time at={key.createdAt} />
          </span>
          <span>
            Last used <Time at={key.lastUsedAt} />
          </span>
          <span>
            Expires <Time at={key.expiresAt} />
          </span>
          {key.revokedAt ? (
            <span>
              Revoked <Time at={key.revokedAt} />
            </span>
          ) : null}
        </div>
        <div class="facts">
          <span>
            Models <ModelTags models={key.effectiveModels} own={key.models !== null} />
          </span>
          <span>
            Limits <b>{formatLimits(key.effectiveLimits)}</b>
          </span>
        </div>
        <p class="small">
          <a
            href={`/dashboard/usage?tenant=${encodeURIComponent(key.tenantId)}&key=${encodeURIComponent(key.id)}&group=model`}
          >
            Usage of this key →
          </a>
        </p>
      </section>
      <section class="panel">
        <h2>Change</h2>
        <form method="post" action={pagePath(key.id)} class="stack">
          <CsrfField token={csrf} />
          <input type="hidden" name="expiresAtWas" value={toDateTimeLocal(key.expiresAt)} />
          <FormErrorNotice error={state.error} />
          <div class="form-grid">
            <label class={state.error?.param === 'name' ? 'field-error' : undefined}>
              Name
              <input
                name="name"
                required
                maxlength={128}
                value={state.form ? field(state.form, 'name') : key.name}
              />
            </label>
            <label class={state.error?.param === 'expiresAt' ? 'field-error' : undefined}>
              <span>
                Expires <span class="hint">(UTC; empty: never)</span>
              </span>
              <input
                type="datetime-local"
                name="expiresAt"
                value={state.form ? field(state.form, 'expiresAt') : toDateTimeLocal(key.expiresAt)}
              />
            </label>
            <ModelsField
              models={key.models}
              form={state.form}
              error={state.error}
              hint="empty: the tenant’s defaults"
            />
          </div>
          <fieldset>
            <legend>Limits and quotas (empty: the tenant’s default, or none)</legend>
            <div class="form-grid">
              <LimitFields
                limits={key.limits}
                form={state.form}
                error={state.error}
                placeholder={tenant.defaults.limits}
              />
            </div>
          </fieldset>
          <div class="buttons">
            <button type="submit">Save changes</button>
          </div>
        </form>
      </section>
      {usable ? (
        <div class="grid-2">
          <section class="panel">
            <h2>Rotate</h2>
            <p class="small">A new secret for the same key id; the full key is shown once.</p>
            <ConfirmForm
              action={`${pagePath(key.id)}/rotate`}
              csrf={csrf}
              confirm={`Rotate “${key.name}”? The old secret stops working when the grace period ends.`}
              label="Rotate key"
            >
              <div class="form-grid">
                <label>
                  Old secret keeps working for
                  <select name="gracePeriodSeconds">
                    <option value="0">no grace: it dies now</option>
                    <option value="300">5 minutes</option>
                    <option value="3600">1 hour</option>
                    <option value="86400">24 hours</option>
                  </select>
                </label>
              </div>
              <p></p>
            </ConfirmForm>
          </section>
          <section class="panel">
            <h2>Revoke</h2>
            <p class="small">The key’s very next request gets 401. This cannot be undone.</p>
            <ConfirmForm
              action={`${pagePath(key.id)}/revoke`}
              csrf={csrf}
              confirm={`Revoke “${key.name}”? Its next request gets 401; this cannot be undone.`}
              label="Revoke key"
              danger
            />
          </section>
        </div>
      ) : null}
    </>,
  );
}
