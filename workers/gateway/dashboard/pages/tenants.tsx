/** @jsxImportSource hono/jsx */
/** Tenants (operator): list, create, and change a tenant's name and defaults. */
import { Hono, type Context } from 'hono';
import { ApiError } from '../../../../src/openai/errors.ts';
import { adminApi } from '../admin-api.ts';
import { CsrfField, Notice, Table, Time } from '../components.tsx';
import type { DashboardEnv } from '../env.ts';
import { field, tenantDefaults, type Form } from '../forms.ts';
import { formatLimits } from '../format.ts';
import { renderPage } from '../layout.tsx';
import type { List, Tenant } from '../types.ts';
import { ModelTags } from './keys.tsx';
import { formError, FormErrorNotice, LimitFields, ModelsField, type FormError } from './shared.tsx';

export const tenantsRoutes = new Hono<DashboardEnv>();

for (const path of ['/dashboard/tenants', '/dashboard/tenants/*']) {
  tenantsRoutes.use(path, async function operatorPagesOnly(c, next) {
    if (c.get('session').caller.kind !== 'operator') {
      throw new ApiError(403, 'Only the operator (ADMIN_TOKEN) may manage tenants.', {
        code: 'operator_only',
      });
    }
    await next();
  });
}

const tenantPage = (id: string) => `/dashboard/tenants/${encodeURIComponent(id)}`;

tenantsRoutes.get('/dashboard/tenants', function listTenants(c) {
  return renderTenants(c, {});
});

tenantsRoutes.post('/dashboard/tenants', async function createTenant(c) {
  const form = (await c.req.parseBody()) as Form;
  try {
    const tenant = await adminApi(c).send<Tenant>('POST', '/tenants', {
      name: field(form, 'name'),
      defaults: tenantDefaults(form),
    });
    return c.redirect(`${tenantPage(tenant.id)}?created`, 303);
  } catch (error) {
    const invalid = formError(error);
    if (!invalid) throw error;
    return renderTenants(c, { form, error: invalid });
  }
});

tenantsRoutes.get('/dashboard/tenants/:tenantId', function showTenant(c) {
  return renderTenant(c, {
    created: c.req.query('created') !== undefined,
    saved: c.req.query('saved') !== undefined,
  });
});

tenantsRoutes.post('/dashboard/tenants/:tenantId', async function updateTenant(c) {
  const tenantId = c.req.param('tenantId');
  const form = (await c.req.parseBody()) as Form;
  try {
    await adminApi(c).send('PATCH', `/tenants/${encodeURIComponent(tenantId)}`, {
      name: field(form, 'name'),
      defaults: tenantDefaults(form),
    });
  } catch (error) {
    const invalid = formError(error);
    if (!invalid) throw error;
    return renderTenant(c, { form, error: invalid });
  }
  return c.redirect(`${tenantPage(tenantId)}?saved`, 303);
});

async function renderTenants(
  c: Context<DashboardEnv>,
  state: { form?: Form; error?: FormError },
): Promise<Response> {
  const { data: tenants } = await adminApi(c).get<List<Tenant>>('/tenants');
  return renderPage(
    c,
    { title: 'Tenants', section: 'tenants', status: state.error ? 400 : 200 },
    <>
      <section class="panel">
        <Table
          id="tenant-list"
          empty="No tenants yet."
          actions
          columns={[
            { label: 'Name' },
            { label: 'ID' },
            { label: 'Default models' },
            { label: 'Default limits' },
            { label: 'Created' },
          ]}
          rows={tenants.map((tenant) => [
            <a href={tenantPage(tenant.id)}>{tenant.name}</a>,
            <code>{tenant.id}</code>,
            <ModelTags models={tenant.defaults.models ?? null} own />,
            <span class="small">{formatLimits(tenant.defaults.limits ?? {})}</span>,
            <Time at={tenant.createdAt} />,
            <a
              class="button secondary small"
              href={`/dashboard/keys?tenant=${encodeURIComponent(tenant.id)}`}
            >
              Keys
            </a>,
          ])}
        />
      </section>
      <section class="panel">
        <h2>Create a tenant</h2>
        <TenantForm
          action="/dashboard/tenants"
          csrf={c.get('session').csrf}
          form={state.form}
          error={state.error}
          submit="Create tenant"
        />
      </section>
    </>,
  );
}

async function renderTenant(
  c: Context<DashboardEnv>,
  state: { form?: Form; error?: FormError; created?: boolean; saved?: boolean },
): Promise<Response> {
  const tenantId = c.req.param('tenantId')!;
  const tenant = await adminApi(c).get<Tenant>(`/tenants/${encodeURIComponent(tenantId)}`);
  return renderPage(
    c,
    {
      title: `Tenant “${tenant.name}”`,
      section: 'tenants',
      status: state.error ? 400 : 200,
      aside: <a href="/dashboard/tenants">← All tenants</a>,
    },
    <>
      {state.created ? (
        <Notice tone="ok">
          Tenant created.{' '}
          <a href={`/dashboard/keys?tenant=${encodeURIComponent(tenant.id)}`}>Create its first key →</a>
        </Notice>
      ) : null}
      {state.saved ? (
        <Notice tone="ok">Saved. New defaults reach every key of the tenant at once.</Notice>
      ) : null}
      <section class="panel">
        <div class="facts">
          <span>
            ID <code>{tenant.id}</code>
          </span>
          <span>
            Created <Time at={tenant.createdAt} />
          </span>
          <a href={`/dashboard/keys?tenant=${encodeURIComponent(tenant.id)}`}>Keys</a>
          <a href={`/dashboard/usage?tenant=${encodeURIComponent(tenant.id)}`}>Usage</a>
        </div>
        <TenantForm
          action={tenantPage(tenant.id)}
          csrf={c.get('session').csrf}
          tenant={tenant}
          form={state.form}
          error={state.error}
          submit="Save changes"
        />
      </section>
    </>,
  );
}

function TenantForm(props: {
  action: string;
  csrf: string;
  tenant?: Tenant;
  form?: Form;
  error?: FormError;
  submit: string;
}) {
  const { tenant, form, error } = props;
  return (
    <form method="post" action={props.action} class="stack">
      <CsrfField token={props.csrf} />
      <FormErrorNotice error={error} />
      <div class="form-grid">
        <label class={error?.param === 'name' ? 'span-2 field-error' : 'span-2'}>
          Name
          <input
            name="name"
            required
            maxlength={128}
            value={form ? field(form, 'name') : (tenant?.name ?? '')}
          />
        </label>
        <ModelsField
          models={tenant?.defaults.models ?? null}
          form={form}
          error={error}
          hint="default for its keys; empty: every model"
        />
      </div>
      <fieldset>
        <legend>Default limits for its keys (empty: none)</legend>
        <div class="form-grid">
          <LimitFields limits={tenant?.defaults.limits} form={form} error={error} />
        </div>
      </fieldset>
      <div class="buttons">
        <button type="submit">{props.submit}</button>
      </div>
    </form>
  );
}
