/** @jsxImportSource hono/jsx */
/** The pieces every page is made of. Text goes in as JSX children or attributes, so it is escaped. */
import type { Child, FC, PropsWithChildren } from 'hono/jsx';
import { formatAgo, formatTime } from './format.ts';

export type Tone = 'ok' | 'warn' | 'bad' | 'idle';

export const Pill: FC<{ tone: Tone; children: Child }> = ({ tone, children }) => (
  <span class={`pill ${tone}`}>{children}</span>
);

export const Time: FC<{ at: number | null; ago?: number }> = ({ at, ago }) =>
  at === null ? (
    <span class="muted">—</span>
  ) : (
    <time datetime={new Date(at).toISOString()} title={formatTime(at, true)}>
      {ago === undefined ? formatTime(at) : formatAgo(at, ago)}
    </time>
  );

export const CsrfField: FC<{ token: string }> = ({ token }) => (
  <input type="hidden" name="_csrf" value={token} />
);

export const Notice: FC<PropsWithChildren<{ tone?: 'bad' | 'warn' | 'ok'; id?: string }>> = ({
  tone,
  id,
  children,
}) => (
  <div class={tone ? `notice ${tone}` : 'notice'} id={id} role={tone === 'bad' ? 'alert' : 'status'}>
    {children}
  </div>
);

/** A credential shown this once, with a copy button and the warning that goes with it. */
export const ShownOnce: FC<{ id: string; label: string; value: string; what: string }> = ({
  id,
  label,
  value,
  what,
}) => (
  <Notice tone="warn">
    <strong>{label}</strong>
    <div class="secret">
      <input
        id={id}
        type="text"
        readonly
        value={value}
        aria-label={label}
        autocomplete="off"
        spellcheck={false}
      />
      <button type="button" data-copy={id}>
        Copy
      </button>
    </div>
    <p class="small">
      Copy it now: this is the only time the {what} is shown. The gateway keeps only its hash; if it is lost,
      rotate or replace it.
    </p>
  </Notice>
);

export interface Column {
  label: string;
  num?: boolean;
  /** Long text (JSON, log lines): on a phone, under its label rather than beside it. */
  block?: boolean;
}

/**
 * A table that turns into one card per row below 720 px: every cell carries its column's label,
 * shown beside the value on a phone instead of a sideways-scrolling table.
 */
export const Table: FC<{
  columns: Column[];
  rows: Child[][];
  empty: string;
  id?: string;
  live?: boolean;
  actions?: boolean;
}> = ({ columns, rows, empty, id, live, actions }) => (
  <div id={id} data-live={live ? '' : undefined}>
    {rows.length === 0 ? (
      <p class="table-empty">{empty}</p>
    ) : (
      <table class="cards">
        <thead>
          <tr>
            {columns.map((column) => (
              <th class={column.num ? 'num' : undefined}>{column.label}</th>
            ))}
            {actions ? <th aria-label="Actions"></th> : null}
          </tr>
        </thead>
        <tbody>
          {rows.map((cells) => (
            <tr>
              {cells.map((cell, i) =>
                i < columns.length ? (
                  <td
                    data-label={columns[i]!.label}
                    class={columns[i]!.num ? 'num' : columns[i]!.block ? 'block' : undefined}
                  >
                    {cell}
                  </td>
                ) : (
                  <td class="actions">{cell}</td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    )}
  </div>
);

export const Stat: FC<{ label: string; value: Child; sub?: Child }> = ({ label, value, sub }) => (
  <div class="stat">
    <div class="label">{label}</div>
    <div class="value">{value}</div>
    {sub === undefined ? null : <div class="sub">{sub}</div>}
  </div>
);

export interface ChartSpec {
  unit?: string;
  /** Bucket starts, in seconds (uPlot's time unit). */
  x: number[];
  series: Array<{ label: string; values: Array<number | null> }>;
  /** Null values are gaps (no data), not zero: every value gets a point so a lone one shows. */
  gaps?: boolean;
}

/** A chart drawn by the page's script from its data attribute; a plain note without the script. */
export const Chart: FC<{ id: string; title: string; spec: ChartSpec }> = ({ id, title, spec }) => (
  <section class="panel">
    <h2>{title}</h2>
    <div class="chart" id={id} data-live="" data-chart={JSON.stringify(spec)} role="img" aria-label={title}>
      <p class="chart-empty">
        {spec.series.every((s) => s.values.every((v) => !v))
          ? 'No traffic in this period.'
          : 'Loading chart…'}
      </p>
    </div>
  </section>
);

export const ConfirmForm: FC<
  PropsWithChildren<{
    action: string;
    csrf: string;
    confirm: string;
    label: string;
    danger?: boolean;
    small?: boolean;
  }>
> = ({ action, csrf, confirm, label, danger, small, children }) => (
  <form method="post" action={action} data-confirm={confirm}>
    <CsrfField token={csrf} />
    {children}
    <button type="submit" class={[danger ? 'danger' : 'secondary', small ? 'small' : ''].join(' ').trim()}>
      {label}
    </button>
  </form>
);
