/** @jsxImportSource hono/jsx */
/** What several pages share: the error page, the confirmation page, form fields for limits and models. */
import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { LIMIT_NAMES, type Limits } from '../../../../src/limits/limits.ts';
import { ApiError } from '../../../../src/openai/errors.ts';
import { AdminApiError } from '../admin-api.ts';
import { CsrfField, Notice } from '../components.tsx';
import type { DashboardEnv } from '../env.ts';
import { field, type Form } from '../forms.ts';
import { renderPage, type Section } from '../layout.tsx';

const LIMIT_FIELDS: Record<keyof Limits, { label: string; hint: string }> = {
  rpm: { label: 'Requests / minute', hint: 'rpm' },
  tpm: { label: 'Tokens / minute', hint: 'tpm' },
  concurrency: { label: 'Concurrent requests', hint: 'concurrency' },
  tokensPerDay: { label: 'Tokens / day', hint: 'UTC day' },
  tokensPerMonth: { label: 'Tokens / month', hint: 'UTC month' },
};

/** The admin API's complaint about a form, and the field it names. */
export interface FormError {
  message: string;
  param: string | null;
}

export function formError(error: unknown): FormError | null {
  return error instanceof AdminApiError && error.status === 400
    ? { message: error.message, param: error.param }
    : null;
}

export function FormErrorNotice({ error }: { error: FormError | null | undefined }) {
  return error ? <Notice tone="bad">{error.message}</Notice> : null;
}

/** Limit inputs, filled from the form just sent (after an error) or from the current limits. */
export function LimitFields({
  limits,
  form,
  error,
  placeholder,
}: {
  limits?: Limits;
  form?: Form;
  error?: FormError | null;
  placeholder?: Limits;
}) {
  return (
    <>
      {LIMIT_NAMES.map((name) => (
        <label
          class={
            error?.param === `limits.${name}` || error?.param === `defaults.limits.${name}`
              ? 'field-error'
              : undefined
          }
        >
          <span>
            {LIMIT_FIELDS[name].label} <span class="hint">({LIMIT_FIELDS[name].hint})</span>
          </span>
          <input
            name={name}
            inputmode="numeric"
            autocomplete="off"
            value={form ? field(form, name) : limits?.[name] !== undefined ? String(limits[name]) : ''}
            placeholder={placeholder?.[name] !== undefined ? `${placeholder[name]} (default)` : 'no limit'}
          />
        </label>
      ))}
    </>
  );
}

export function ModelsField({
  models,
  form,
  error,
  hint,
}: {
  models?: string[] | null;
  form?: Form;
  error?: FormError | null;
  hint: string;
}) {
  return (
    <label class={error?.param?.includes('models') ? 'wide field-error' : 'wide'}>
      <span>
        Allowed models <span class="hint">({hint})</span>
      </span>
      <textarea name="models" rows={2} placeholder="llama-3.1-8b, qwen*">
        {form ? field(form, 'models') : (models ?? []).join('\n')}
      </textarea>
    </label>
  );
}

/** Asks before a destructive change when the page's script did not (it asks in a dialog). */
export function renderConfirmation(
  c: Context<DashboardEnv>,
  page: {
    title: string;
    section: Section;
    message: Child;
    action: string;
    button: string;
    cancel: string;
    fields?: Record<string, string>;
  },
): Promise<Response> {
  return renderPage(
    c,
    { title: page.title, section: page.section },
    <section class="panel">
      <p>{page.message}</p>
      <form method="post" action={page.action}>
        <CsrfField token={c.get('session').csrf} />
        <input type="hidden" name="confirmed" value="yes" />
        {Object.entries(page.fields ?? {}).map(([name, value]) => (
          <input type="hidden" name={name} value={value} />
        ))}
        <div class="buttons">
          <button type="submit" class="danger">
            {page.button}
          </button>
          <a class="button secondary" href={page.cancel}>
            Cancel
          </a>
        </div>
      </form>
    </section>,
  );
}

/** Every error on a dashboard page becomes a page, worded as the admin API worded it. */
export async function renderDashboardError(error: unknown, c: Context<DashboardEnv>): Promise<Response> {
  const status = error instanceof AdminApiError || error instanceof ApiError ? error.status : 500;
  if (status === 500)
    console.error(`[${c.get('requestId')}] dashboard error on ${c.req.method} ${c.req.path}`, error);
  const message =
    status === 500
      ? 'The dashboard failed to show this page; the gateway log has the details.'
      : (error as Error).message;
  const title =
    status === 404
      ? 'Not found'
      : status === 403
        ? 'Not allowed'
        : status === 401
          ? 'Signed out'
          : status === 503
            ? 'Unavailable'
            : 'Something went wrong';
  return renderPage(
    c,
    { title, status: status as ContentfulStatusCode },
    <>
      {c.get('session') ? null : <h1>{title}</h1>}
      <Notice tone="bad">{message}</Notice>
      <p>
        <a href={c.get('session') ? '/dashboard' : '/dashboard/sign-in'}>
          {c.get('session') ? 'Back to the overview' : 'Sign in'}
        </a>
      </p>
    </>,
  );
}
