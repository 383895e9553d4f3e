/** @jsxImportSource hono/jsx */
/** The audit log: who changed what, newest first (a tenant admin sees its own tenant's entries). */
import { Hono } from 'hono';
import { adminApi } from '../admin-api.ts';
import { Table, Time } from '../components.tsx';
import type { DashboardEnv } from '../env.ts';
import { renderPage } from '../layout.tsx';
import { tenantsById } from '../lookups.ts';
import type { AuditEntry, List } from '../types.ts';

export const auditRoutes = new Hono<DashboardEnv>();

const LIMIT = 200;
const DETAILS_CHARS = 240;

auditRoutes.get('/dashboard/audit', async function showAudit(c) {
  const api = adminApi(c);
  const [audit, tenants] = await Promise.all([
    api.get<List<AuditEntry>>(`/audit?limit=${LIMIT}`),
    tenantsById(api),
  ]);
  return renderPage(
    c,
    { title: 'Audit log', section: 'audit', refreshMs: 10000 },
    <section class="panel">
      <Table
        id="audit-log"
        live
        empty="Nothing has been changed yet."
        columns={[
          { label: 'When' },
          { label: 'Who' },
          { label: 'Tenant' },
          { label: 'What' },
          { label: 'Target' },
          { label: 'Details', block: true },
        ]}
        rows={audit.data.map((entry) => [
          <Time at={entry.at} />,
          entry.actor === 'operator' ? (
            'operator'
          ) : (
            <code>{entry.actor.replace(/^key:/, 'key ').slice(0, 12)}</code>
          ),
          entry.tenantId === null ? (
            <span class="muted">—</span>
          ) : (
            (tenants.get(entry.tenantId)?.name ?? <code>{entry.tenantId}</code>)
          ),
          <code class="nowrap">{entry.action}</code>,
          <code>{entry.target}</code>,
          <Details value={entry.details} />,
        ])}
      />
      {audit.data.length === LIMIT ? <p class="small muted">{`The newest ${LIMIT} entries.`}</p> : null}
    </section>,
  );
});

function Details({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="muted">—</span>;
  const text = JSON.stringify(value);
  return (
    <code title={text.length > DETAILS_CHARS ? text : undefined}>
      {text.length > DETAILS_CHARS ? `${text.slice(0, DETAILS_CHARS)}…` : text}
    </code>
  );
}
