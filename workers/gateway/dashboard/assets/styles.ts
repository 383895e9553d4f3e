/** The dashboard's stylesheet, served as a file (the CSP allows no inline style). */
export const DASHBOARD_CSS = String.raw`
:root {
  --bg: #f5f6f8; --panel: #fff; --ink: #18202c; --muted: #5d6877; --line: #e2e5ea; --field: #c8cdd5;
  --accent: #2f5bea; --accent-dark: #2448c4; --top: #111827; --top-ink: #cbd5e1;
  --ok: #116b37; --ok-bg: #dff3e7; --warn: #8a5300; --warn-bg: #fdf0d5; --bad: #b42318; --bad-bg: #fde7e4;
  --idle: #4b5563; --idle-bg: #eceff3; --radius: 8px;
  font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--accent); }
h1 { font-size: 1.35rem; margin: .25rem 0 1rem; }
.filters { grid-template-columns: repeat(auto-fit, minmax(min(100%, 170px), 1fr)); }
.filters .buttons { grid-column: 1 / -1; margin-top: 0; }
h2 { font-size: 1.05rem; margin: 0 0 .75rem; }
h3 { font-size: .95rem; margin: 1rem 0 .5rem; }
p { margin: .4rem 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .86em; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.small { font-size: .85rem; }

header.top { background: var(--top); color: #fff; }
.top-inner { max-width: 1200px; margin: 0 auto; padding: .55rem 1rem; display: flex; flex-wrap: wrap; align-items: center; gap: .4rem 1rem; }
.brand { color: #fff; font-weight: 700; font-size: 1.05rem; text-decoration: none; letter-spacing: .01em; }
nav.tabs { display: flex; flex-wrap: wrap; gap: .15rem; }
nav.tabs a { color: var(--top-ink); text-decoration: none; padding: .3rem .6rem; border-radius: 6px; }
nav.tabs a:hover { color: #fff; background: #1f2937; }
nav.tabs a[aria-current='page'] { color: #fff; background: #374151; }
.who { margin-left: auto; display: flex; align-items: center; gap: .6rem; color: var(--top-ink); font-size: .9rem; }
.who form { margin: 0; }
.who button { background: transparent; border: 1px solid #4b5563; color: #e5e7eb; padding: .2rem .6rem; font-weight: 500; }
.who button:hover { background: #1f2937; }

main { max-width: 1200px; margin: 0 auto; padding: 1rem; }
.page-head { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .5rem 1rem; margin-bottom: 1rem; }
.page-head h1 { margin: 0; }
.page-tools { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; }
.page-tools label.inline { font-weight: 500; }
.page-tools select { width: auto; }
.live-status { font-size: .8rem; color: var(--muted); }
.live-status.stale { color: var(--bad); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); padding: 1rem; margin-bottom: 1rem; min-width: 0; }
.panel > h2:first-child { margin-top: 0; }
.grid-2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap: 1rem; }
.grid-2 > .panel { margin-bottom: 0; }
.stack > * + * { margin-top: 1rem; }

.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: .75rem; margin-bottom: 1rem; }
.stat { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); padding: .75rem 1rem; }
.stat .label { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; }
.stat .value { font-size: 1.55rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.stat .sub { color: var(--muted); font-size: .8rem; }

.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 460px), 1fr)); gap: 1rem; margin-bottom: 1rem; }
.charts .panel { margin-bottom: 0; }
.chart { min-height: 230px; width: 100%; overflow: hidden; }
.chart .uplot { width: 100% !important; }
.chart-empty { color: var(--muted); padding: 2rem 0; text-align: center; }

table.cards { width: 100%; border-collapse: collapse; }
table.cards th, table.cards td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
table.cards th { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; white-space: nowrap; }
table.cards tbody tr:last-child td { border-bottom: none; }
table.cards th.num, table.cards td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.cards td.num, time, .nowrap { white-space: nowrap; overflow-wrap: normal; }
td.actions { white-space: nowrap; text-align: right; }
.table-empty { color: var(--muted); padding: .75rem .6rem; }

.pill { display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-size: .78rem; font-weight: 650; white-space: nowrap; }
.pill.ok { color: var(--ok); background: var(--ok-bg); }
.pill.warn { color: var(--warn); background: var(--warn-bg); }
.pill.bad { color: var(--bad); background: var(--bad-bg); }
.pill.idle { color: var(--idle); background: var(--idle-bg); }
.tag { display: inline-block; padding: 0 .4rem; margin: 0 .2rem .2rem 0; border-radius: 4px; background: var(--idle-bg); font-size: .82rem; overflow-wrap: anywhere; }

form { margin: 0; }
.form-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 140px), 1fr)); gap: .75rem; align-items: end; }
.form-grid .wide { grid-column: 1 / -1; }
@media (min-width: 360px) { .form-grid .span-2 { grid-column: span 2; } }
fieldset { border: 1px solid var(--line); border-radius: var(--radius); padding: .75rem; margin: 0; min-width: 0; }
legend { font-weight: 600; padding: 0 .3rem; }
label { display: flex; flex-direction: column; gap: .25rem; font-weight: 600; font-size: .85rem; min-width: 0; }
label .hint { font-weight: 400; color: var(--muted); font-size: .8rem; }
label.inline { flex-direction: row; align-items: center; gap: .4rem; font-weight: 500; }
input, select, textarea { font: inherit; font-weight: 400; color: inherit; padding: .42rem .55rem; border: 1px solid var(--field); border-radius: 6px; background: #fff; min-width: 0; width: 100%; }
input[type='checkbox'] { width: auto; }
textarea { min-height: 4.5rem; resize: vertical; }
input:focus, select:focus, textarea:focus, button:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.field-error input, .field-error textarea, .field-error select { border-color: var(--bad); }
.buttons { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-top: .75rem; }
button, .button { font: inherit; font-weight: 600; padding: .42rem .9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; display: inline-block; line-height: 1.3; }
button:hover, .button:hover { background: var(--accent-dark); }
button.secondary, .button.secondary { background: #fff; color: var(--ink); border-color: var(--field); }
button.secondary:hover, .button.secondary:hover { background: var(--idle-bg); }
button.danger { background: var(--bad); border-color: var(--bad); }
button.danger:hover { background: #8f1c13; }
button.small, .button.small { padding: .2rem .55rem; font-size: .85rem; }
td.actions form, td.actions .button { display: inline-block; margin-left: .3rem; }

.notice { border: 1px solid var(--line); border-left: 4px solid var(--accent); background: var(--panel); border-radius: 6px; padding: .75rem 1rem; margin-bottom: 1rem; }
.notice.bad { border-left-color: var(--bad); background: var(--bad-bg); }
.notice.warn { border-left-color: #d97706; background: var(--warn-bg); }
.notice.ok { border-left-color: var(--ok); background: var(--ok-bg); }
.secret { display: flex; gap: .5rem; margin: .5rem 0; }
.secret input { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; flex: 1; }

.node-head { display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: baseline; justify-content: space-between; }
.node-head h2 { margin: 0; }
.facts { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; color: var(--muted); font-size: .88rem; margin: .35rem 0 .5rem; }
.facts b { color: var(--ink); font-weight: 600; }
meter { width: 6rem; height: .8rem; vertical-align: middle; }
pre.log { background: #0f172a; color: #e2e8f0; padding: .75rem; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .8rem; margin: .5rem 0 0; }
details summary { cursor: pointer; font-weight: 600; }

.sign-in { max-width: 420px; margin: 8vh auto; }
.sign-in h1 { text-align: center; }
.sign-in .brand-big { text-align: center; font-size: 1.6rem; font-weight: 750; margin-bottom: .25rem; }

@media (max-width: 720px) {
  main { padding: .75rem; }
  .top-inner { gap: .35rem .75rem; padding: .5rem .6rem; }
  .who { order: 2; margin-left: auto; }
  nav.tabs { order: 3; width: 100%; }
  nav.tabs a { padding: .3rem .4rem; font-size: .9rem; }
  .filters { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  table.cards thead { display: none; }
  table.cards tr { display: block; border: 1px solid var(--line); border-radius: 6px; margin-bottom: .6rem; padding: .25rem 0; }
  table.cards td { display: flex; justify-content: space-between; align-items: baseline; gap: 1rem; border: none; padding: .2rem .6rem; text-align: right; }
  table.cards td::before { content: attr(data-label); color: var(--muted); font-size: .78rem; font-weight: 600; text-transform: uppercase; letter-spacing: .03em; text-align: left; flex: none; }
  table.cards td.block { flex-direction: column; align-items: stretch; gap: .1rem; text-align: left; }
  table.cards td.actions { justify-content: flex-end; }
  table.cards td.actions::before { content: none; }
  table.cards td > * { min-width: 0; }
}
`;
