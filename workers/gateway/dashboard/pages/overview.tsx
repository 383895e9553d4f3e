/** @jsxImportSource hono/jsx */
/** Overview: traffic, tokens, errors and time to first token over time; top models and keys; engines. */
import { Hono } from 'hono';
import type { Child } from 'hono/jsx';
import { adminApi } from '../admin-api.ts';
import { Chart, Pill, Stat, Table } from '../components.tsx';
import { engineCounts } from '../engine-state.ts';
import type { DashboardEnv } from '../env.ts';
import { formatCompact, formatCount, formatMs } from '../format.ts';
import { renderPage } from '../layout.tsx';
import { keysById } from '../lookups.ts';
import type { List, NodeView, UsageList } from '../types.ts';
import {
  bucketStarts,
  groupTotals,
  isRange,
  RANGES,
  spanOf,
  sumSeries,
  totalsOf,
  ttftSeries,
  type RangeId,
  type Totals,
} from '../usage-series.ts';

export const overviewRoutes = new Hono<DashboardEnv>();

overviewRoutes.get('/dashboard', async function showOverview(c) {
  const api = adminApi(c);
  const asked = c.req.query('range');
  const range: RangeId = isRange(asked) ? asked : '1h';
  const span = spanOf(range, Date.now());
  const operator = c.get('session').caller.kind === 'operator';
  const [usage, nodes] = await Promise.all([
    api.get<UsageList>(`/usage?granularity=${span.granularity}&from=${span.from}&to=${span.to}`),
    operator ? api.get<List<NodeView>>('/nodes') : Promise.resolve(null),
  ]);
  const rows = usage.data;
  const totals = totalsOf(rows);
  const x = bucketStarts(span).map((start) => start / 1000);
  const topModels = groupTotals(rows, 'model').slice(0, 5);
  const topKeys = groupTotals(rows, 'key').slice(0, 5);
  const keys = await keysById(
    api,
    topKeys.map((k) => k.group),
  );
  const engines = nodes ? engineCounts(nodes.data) : null;

  const rangeForm = (
    <form method="get" action="/dashboard" data-autosubmit="">
      <label class="inline">
        Period
        <select name="range">
          {(Object.keys(RANGES) as RangeId[]).map((id) => (
            <option value={id} selected={id === range}>
              {RANGES[id].label}
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
  );

  return renderPage(
    c,
    { title: 'Overview', section: 'overview', refreshMs: 5000, aside: rangeForm },
    <>
      <div class="stats" id="overview-stats" data-live="">
        <Stat label="Requests" value={formatCount(totals.requests)} sub={RANGES[range].label} />
        <Stat
          label="Tokens"
          value={formatCompact(totals.tokens)}
          sub={`${formatCompact(totals.promptTokens)} prompt · ${formatCompact(totals.completionTokens)} completion`}
        />
        <Stat
          label="Errors"
          value={formatCount(totals.errors)}
          sub={
            totals.requests > 0
              ? `${((100 * totals.errors) / totals.requests).toFixed(1)} % of requests`
              : '—'
          }
        />
        <Stat label="Time to first token" value={formatMs(totals.ttftMs)} sub="mean" />
        {engines ? (
          <Stat
            label="Engines ready"
            value={`${engines.routable} / ${engines.total}`}
            sub={
              <a href="/dashboard/nodes">
                {nodes!.data.length === 1 ? '1 node' : `${nodes!.data.length} nodes`}
              </a>
            }
          />
        ) : null}
      </div>
      <div class="charts">
        <Chart
          id="chart-requests"
          title="Requests"
          spec={{ x, series: [{ label: 'requests', values: sumSeries(rows, span, (r) => r.requests) }] }}
        />
        <Chart
          id="chart-tokens"
          title="Tokens"
          spec={{
            x,
            series: [
              { label: 'prompt', values: sumSeries(rows, span, (r) => r.promptTokens) },
              { label: 'completion', values: sumSeries(rows, span, (r) => r.completionTokens) },
            ],
          }}
        />
        <Chart
          id="chart-errors"
          title="Errors"
          spec={{
            x,
            series: [
              { label: 'client (4xx)', values: sumSeries(rows, span, (r) => r.clientErrors) },
              { label: 'rate-limited (429)', values: sumSeries(rows, span, (r) => r.rateLimited) },
              { label: 'server (5xx)', values: sumSeries(rows, span, (r) => r.serverErrors) },
            ],
          }}
        />
        <Chart
          id="chart-ttft"
          title="Time to first token (mean)"
          spec={{ x, unit: ' ms', gaps: true, series: [{ label: 'TTFT', values: ttftSeries(rows, span) }] }}
        />
      </div>
      <div class="grid-2">
        <section class="panel">
          <h2>Top models</h2>
          <TopTable
            id="top-models"
            first="Model"
            rows={topModels.map((m) => ({ label: <code>{m.group}</code>, totals: m.totals }))}
          />
        </section>
        <section class="panel">
          <h2>Top keys</h2>
          <TopTable
            id="top-keys"
            first="Key"
            rows={topKeys.map((k) => {
              const key = keys.get(k.group);
              return {
                label: key ? (
                  <a href={`/dashboard/keys/${encodeURIComponent(k.group)}`}>{key.name}</a>
                ) : (
                  <span class="muted">
                    <code>{k.group.slice(0, 8)}</code> (gone)
                  </span>
                ),
                totals: k.totals,
              };
            })}
          />
        </section>
      </div>
    </>,
  );
});

function TopTable({
  id,
  first,
  rows,
}: {
  id: string;
  first: string;
  rows: Array<{ label: Child; totals: Totals }>;
}) {
  return (
    <Table
      id={id}
      live
      empty="No requests in this period."
      columns={[
        { label: first },
        { label: 'Requests', num: true },
        { label: 'Tokens', num: true },
        { label: 'Errors', num: true },
        { label: 'TTFT', num: true },
      ]}
      rows={rows.map((row) => [
        row.label,
        formatCount(row.totals.requests),
        formatCompact(row.totals.tokens),
        row.totals.errors > 0 ? <Pill tone="bad">{formatCount(row.totals.errors)}</Pill> : '0',
        formatMs(row.totals.ttftMs),
      ])}
    />
  );
}
