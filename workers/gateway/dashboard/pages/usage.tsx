/** @jsxImportSource hono/jsx */
/** Usage per key, model or tenant at minute, hour or day granularity: a chart, a table, CSV. */
import { Hono, type Context } from 'hono';
import type { Child } from 'hono/jsx';
import type { Granularity } from '../../../../src/usage/rollup.ts';
import { adminApi } from '../admin-api.ts';
import { Chart, Table } from '../components.tsx';
import type { DashboardEnv } from '../env.ts';
import { formatCompact, formatCount, formatMs, formatTime } from '../format.ts';
import { renderPage } from '../layout.tsx';
import { keysById, tenantsById } from '../lookups.ts';
import type { KeyView, List, UsageList, UsageRow } from '../types.ts';
import {
  bucketGroupRows,
  bucketStarts,
  groupTotals,
  isRange,
  RANGES,
  spanOf,
  sumSeries,
  type Dimension,
  type RangeId,
  type Span,
} from '../usage-series.ts';

export const usageRoutes = new Hono<DashboardEnv>();

const GRANULARITIES: Granularity[] = ['minute', 'hour', 'day'];
const TABLE_ROWS = 300;
const CHART_GROUPS = 5;

interface UsageFilters {
  tenantId: string;
  keyId: string;
  model: string;
  range: RangeId;
  group: Dimension;
  span: Span;
}

function filtersOf(c: Context<DashboardEnv>): UsageFilters {
  const operator = c.get('session').caller.kind === 'operator';
  const q = (name: string) => (c.req.query(name) ?? '').trim();
  const askedRange = q('range');
  const range: RangeId = isRange(askedRange) ? askedRange : '24h';
  const asked = q('granularity') as Granularity;
  const granularity = GRANULARITIES.includes(asked) ? asked : RANGES[range].granularity;
  const askedGroup = q('group');
  const group: Dimension =
    askedGroup === 'model' || (askedGroup === 'tenant' && operator) ? askedGroup : 'key';
  return {
    tenantId: operator ? q('tenant') : '',
    keyId: q('key'),
    model: q('model'),
    range,
    group,
    span: spanOf(range, Date.now(), granularity),
  };
}

function adminQuery(f: UsageFilters): string {
  const params = new URLSearchParams({
    granularity: f.span.granularity,
    from: String(f.span.from),
    to: String(f.span.to),
  });
  if (f.tenantId) params.set('tenantId', f.tenantId);
  if (f.keyId) params.set('keyId', f.keyId);
  if (f.model) params.set('model', f.model);
  return `/usage?${params}`;
}

usageRoutes.get('/dashboard/usage.csv', async function exportUsage(c) {
  const response = await adminApi(c).csv(adminQuery(filtersOf(c)));
  const day = new Date().toISOString().slice(0, 10);
  return c.body(await response.text(), 200, {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="switchyard-usage-${day}.csv"`,
  });
});

usageRoutes.get('/dashboard/usage', async function showUsage(c) {
  const api = adminApi(c);
  const f = filtersOf(c);
  const operator = c.get('session').caller.kind === 'operator';
  const [usage, tenants] = await Promise.all([api.get<UsageList>(adminQuery(f)), tenantsById(api)]);
  const rows = usage.data;
  const pickerTenant = f.tenantId || (operator ? '' : ([...tenants.keys()][0] ?? ''));
  const [keys, tenantKeys] = await Promise.all([
    // Names only where keys are shown: one admin API read per key.
    keysById(api, f.group === 'key' ? rows.map((row) => row.keyId) : f.keyId ? [f.keyId] : []),
    pickerTenant
      ? api.get<List<KeyView>>(`/tenants/${encodeURIComponent(pickerTenant)}/keys`).then((list) => list.data)
      : Promise.resolve([]),
  ]);
  const label = (group: string): Child =>
    f.group === 'model' ? (
      <code>{group}</code>
    ) : f.group === 'tenant' ? (
      (tenants.get(group)?.name ?? group)
    ) : keys.has(group) ? (
      <a href={`/dashboard/keys/${encodeURIComponent(group)}`}>{keys.get(group)!.name}</a>
    ) : (
      <code>{group.slice(0, 8)}</code>
    );
  /** Chart legends are short: a long name is cut (the table has it whole). */
  const plain = (group: string): string => shorten(plainName(group));
  const plainName = (group: string): string =>
    f.group === 'model'
      ? group
      : f.group === 'tenant'
        ? (tenants.get(group)?.name ?? group)
        : (keys.get(group)?.name ?? group.slice(0, 8));

  const groups = groupTotals(rows, f.group);
  const top = groups.slice(0, CHART_GROUPS);
  const rest = groups.slice(CHART_GROUPS).flatMap((g) => g.rows);
  const x = bucketStarts(f.span).map((start) => start / 1000);
  const seriesBy = (value: (row: UsageRow) => number) => [
    ...top.map((g) => ({ label: plain(g.group), values: sumSeries(g.rows, f.span, value) })),
    ...(rest.length > 0 ? [{ label: 'other', values: sumSeries(rest, f.span, value) }] : []),
  ];
  const table = bucketGroupRows(rows, f.group);
  const exportQuery = new URLSearchParams(c.req.query()).toString();
  const coarsened = f.span.granularity !== (c.req.query('granularity') || f.span.granularity);

  return renderPage(
    c,
    { title: 'Usage', section: 'usage', refreshMs: 15000 },
    <>
      <section class="panel">
        <form method="get" action="/dashboard/usage" data-autosubmit="" class="form-grid filters">
          {operator ? (
            <label>
              Tenant
              <select name="tenant">
                <option value="">All tenants</option>
                {[...tenants.values()].map((t) => (
                  <option value={t.id} selected={t.id === f.tenantId}>
                    {t.name}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
          <label>
            Key
            <select name="key">
              <option value="">All keys</option>
              {tenantKeys.map((k) => (
                <option value={k.id} selected={k.id === f.keyId}>
                  {k.name}
                </option>
              ))}
              {f.keyId && !tenantKeys.some((k) => k.id === f.keyId) ? (
                <option value={f.keyId} selected>
                  {keys.get(f.keyId)?.name ?? f.keyId.slice(0, 8)}
                </option>
              ) : null}
            </select>
          </label>
          <label>
            Model
            <input name="model" value={f.model} placeholder="all models" list="usage-models" />
            <datalist id="usage-models">
              {[...new Set(rows.map((r) => r.model))].map((m) => (
                <option value={m}></option>
              ))}
            </datalist>
          </label>
          <label>
            Period
            <select name="range">
              {(Object.keys(RANGES) as RangeId[]).map((id) => (
                <option value={id} selected={id === f.range}>
                  {RANGES[id].label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Granularity
            <select name="granularity">
              {GRANULARITIES.map((g) => (
                <option value={g} selected={g === f.span.granularity}>
                  {g}
                </option>
              ))}
            </select>
          </label>
          <label>
            Per
            <select name="group">
              <option value="key" selected={f.group === 'key'}>
                key
              </option>
              <option value="model" selected={f.group === 'model'}>
                model
              </option>
              {operator ? (
                <option value="tenant" selected={f.group === 'tenant'}>
                  tenant
                </option>
              ) : null}
            </select>
          </label>
          <div class="buttons">
            <button type="submit" class="secondary">
              Apply
            </button>
            <a class="button secondary" href={`/dashboard/usage.csv?${exportQuery}`} download="">
              Export CSV
            </a>
          </div>
        </form>
        {coarsened ? (
          <p class="small muted">
            {`Shown per ${f.span.granularity}: at most ${formatCount(bucketStarts(f.span).length)} buckets fit one chart.`}
          </p>
        ) : null}
      </section>
      <div class="charts">
        <Chart
          id="usage-requests"
          title={`Requests per ${f.span.granularity}, by ${f.group}`}
          spec={{ x, series: seriesBy((r) => r.requests) }}
        />
        <Chart
          id="usage-tokens"
          title={`Tokens per ${f.span.granularity}, by ${f.group}`}
          spec={{ x, series: seriesBy((r) => r.promptTokens + r.completionTokens) }}
        />
      </div>
      <section class="panel">
        <h2>{`Per ${f.span.granularity} and ${f.group}`}</h2>
        <Table
          id="usage-table"
          live
          empty={`No usage ${RANGES[f.range].label.toLowerCase()} for these filters.`}
          columns={[
            { label: bucketLabel(f.span.granularity) },
            { label: f.group === 'key' ? 'Key' : f.group === 'model' ? 'Model' : 'Tenant' },
            { label: 'Requests', num: true },
            { label: 'Prompt', num: true },
            { label: 'Completion', num: true },
            { label: 'Errors', num: true },
            { label: 'TTFT', num: true },
            { label: 'Duration', num: true },
          ]}
          rows={table
            .slice(0, TABLE_ROWS)
            .map((row) => [
              formatTime(row.start),
              label(row.group),
              formatCount(row.totals.requests),
              formatCompact(row.totals.promptTokens),
              formatCompact(row.totals.completionTokens),
              formatCount(row.totals.errors),
              formatMs(row.totals.ttftMs),
              formatMs(row.totals.durationMs),
            ])}
        />
        {table.length > TABLE_ROWS ? (
          <p class="small muted">{`The newest ${TABLE_ROWS} of ${formatCount(table.length)} rows; the CSV has them all.`}</p>
        ) : null}
      </section>
    </>,
  );
});

function bucketLabel(granularity: Granularity): string {
  return granularity === 'minute' ? 'Minute' : granularity === 'hour' ? 'Hour' : 'Day';
}

function shorten(text: string, max = 32): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
