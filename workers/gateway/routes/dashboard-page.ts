/** The dashboard page: nodes, their engines and load, GPUs. Plain HTML and a little script. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Switchyard</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
  table { border-collapse: collapse; margin: 1rem 0; }
  th, td { border-bottom: 1px solid #ddd; padding: .3rem .8rem; text-align: left; }
  .ready, .healthy { color: #0a0; } .unhealthy, .crashloop { color: #c00; } .draining { color: #b70; }
  #error { color: #c00; }
</style>
</head>
<body>
<h1>Switchyard</h1>
<form id="login"><label>Admin token <input id="token" type="password" autocomplete="off"></label>
<button>Show</button></form>
<p id="error"></p>
<h2>Nodes</h2>
<table id="nodes"><thead><tr><th>node</th><th>status</th><th>last heartbeat</th><th>engine</th>
<th>model</th><th>state</th><th>running</th><th>waiting</th><th>KV cache</th><th>GPUs</th></tr></thead>
<tbody></tbody></table>
<script>
const tokenInput = document.getElementById('token');
tokenInput.value = sessionStorage.getItem('switchyard-admin-token') || '';
document.getElementById('login').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem('switchyard-admin-token', tokenInput.value);
  refresh();
});
function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}
async function refresh() {
  const token = sessionStorage.getItem('switchyard-admin-token');
  if (!token) return;
  const res = await fetch('/admin/api/nodes', { headers: { authorization: 'Bearer ' + token } });
  const body = await res.json();
  const error = document.getElementById('error');
  if (!res.ok) { error.textContent = body.error.message; return; }
  error.textContent = '';
  const tbody = document.querySelector('#nodes tbody');
  tbody.replaceChildren();
  for (const node of body.data) {
    const status = node.draining ? 'draining' : node.status;
    const gpus = node.gpus.map((g) => g.name + ' ' + (g.utilizationPct ?? '?') + '%').join(', ') || '—';
    for (const engine of node.engines.length ? node.engines : [null]) {
      const tr = document.createElement('tr');
      tr.append(cell(node.name), cell(status, status), cell(new Date(node.lastSeenAt).toLocaleTimeString()),
        cell(engine ? engine.id : '—'), cell(engine ? engine.model : '—'),
        cell(engine ? engine.state : '—', engine ? engine.state : ''),
        cell(engine && engine.load ? engine.load.running : '—'), cell(engine && engine.load ? engine.load.waiting : '—'),
        cell(engine && engine.load ? Math.round(engine.load.kvCacheUsage * 100) + '%' : '—'), cell(gpus));
      tbody.append(tr);
    }
  }
}
refresh();
setInterval(refresh, 5000);
</script>
</body>
</html>
`;
