// Squall's web UI: plain pages that read the REST API (/api/v1/...) and redraw every 5 s.
'use strict';

const REFRESH_MS = 5000;
const params = new URLSearchParams(location.search);

// State-changing requests carry the user's CSRF token, which only this origin can read.
let csrfToken = null;
async function api(path, options) {
  options = options || {};
  if (options.method && options.method !== 'GET') {
    if (!csrfToken) {
      const s = await fetch('/api/v1/session').then(r => r.json()).catch(() => ({}));
      csrfToken = s.csrfToken || null;
    }
    options.headers = Object.assign({}, options.headers, { 'x-csrf-token': csrfToken || '' });
  }
  const r = await fetch(path, options);
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) showLogin(body.error);
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// Not logged in: say how, once, at the top of the page.
function showLogin(message) {
  if (document.getElementById('login-needed')) return;
  const note = document.createElement('p');
  note.id = 'login-needed';
  note.className = 'login-needed';
  note.textContent = message || 'Not logged in: run `squall ui-login` and open the link it prints.';
  document.body.prepend(note);
}

function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

const num = v => (v ?? 0).toLocaleString('en-US');
const ms = v => (!v ? '-' : v < 10 ? v.toFixed(3) : v.toFixed(1));
const ratio = v => (v ?? 0).toFixed(3);
const mb = v => (!v ? '-' : (v / 1048576).toFixed(1) + ' MB');
function duration(s) {
  s = s || 0;
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}
const when = secs => (secs ? new Date(secs * 1000).toLocaleString() : '');

// columns: [label, value(row) -> text or {html}, field name for tests]
function fillTable(id, columns, rows, rowAttrs) {
  const head = '<tr>' + columns.map(c => `<th>${esc(c[0])}</th>`).join('') + '</tr>';
  const body = rows.map(r => {
    const attrs = rowAttrs ? rowAttrs(r) : '';
    const cells = columns.map(c => {
      const v = c[1](r);
      const cls = c[3] ? ` class="${c[3]}"` : '';
      const field = c[2] ? ` data-field="${c[2]}"` : '';
      return `<td${cls}${field}>${v && v.html !== undefined ? v.html : esc(v)}</td>`;
    }).join('');
    return `<tr ${attrs}>${cells}</tr>`;
  }).join('');
  document.getElementById(id).innerHTML = head + (body || `<tr><td colspan="${columns.length}">none</td></tr>`);
}

function cards(id, pairs) {
  document.getElementById(id).innerHTML = pairs
    .map(([k, v]) => `<div class="card"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div></div>`).join('');
}

function stamp(error) {
  document.getElementById('refreshed').textContent = error
    ? 'refresh failed: ' + error.message
    : 'updated ' + new Date().toLocaleTimeString();
}

function every(fn) {
  const run = () => fn().then(() => stamp(), stamp);
  run();
  setInterval(run, REFRESH_MS);
}

// ------------------------------------------------------------------ cluster page
async function clusterPage() {
  const [c, s, t] = await Promise.all([
    api('/api/v1/cluster/summary'), api('/api/v1/supervisor/summary'), api('/api/v1/topology/summary')]);
  cards('cluster-summary', [['Nimbus uptime', duration(c.nimbusUptimeSeconds)], ['Supervisors', c.supervisors],
    ['Slots used', c.slotsUsed], ['Slots free', c.slotsFree], ['Topologies', c.topologies], ['Executors', c.executorsTotal]]);
  fillTable('topologies', [
    ['Name', r => ({ html: `<a href="/topology.html?id=${encodeURIComponent(r.id)}">${esc(r.name)}</a>` })],
    ['Id', r => r.id], ['Status', r => r.status], ['Uptime', r => duration(r.uptimeSeconds)],
    ['Workers', r => r.workersTotal], ['Executors', r => r.executorsTotal], ['Tasks', r => r.tasksTotal]],
  t.topologies, r => `data-topology="${esc(r.name)}"`);
  fillTable('supervisors', [['Id', r => r.id], ['Host', r => r.host], ['Uptime', r => duration(r.uptimeSeconds)],
    ['Slots', r => r.slotsTotal], ['Used', r => r.slotsUsed], ['Free', r => r.slotsFree], ['Alive', r => (r.alive ? 'yes' : 'no')]],
  s.supervisors);
}

// ------------------------------------------------------------------ topology page
const errorCell = r => (r.lastError ? { html: `${esc(r.lastError)}<br><small>${esc(when(r.errorTime))} on ${esc(r.errorHost)}:${esc(r.errorPort)} task ${esc(r.errorTask)}</small>` } : '');
const componentLink = (topologyId, id) => ({ html: `<a href="/component.html?id=${encodeURIComponent(topologyId)}&component=${encodeURIComponent(id)}">${esc(id)}</a>` });

async function topologyPage() {
  const id = params.get('id');
  const window = document.getElementById('window').value;
  const t = await api(`/api/v1/topology/${encodeURIComponent(id)}?window=${window}`);
  document.getElementById('title').textContent = t.name;
  document.title = 'Squall: ' + t.name;
  const short = t.workersRequested > t.workersTotal;
  cards('topology-summary', [['Name', t.name], ['Status', t.status], ['Uptime', duration(t.uptimeSeconds)],
    ['Workers', short ? `${t.workersTotal} of ${t.workersRequested} requested` : t.workersTotal],
    ['Executors', t.executorsTotal], ['Tasks', t.tasksTotal],
    ['Emitted', num(t.topologyStats.emitted)], ['Acked', num(t.topologyStats.acked)], ['Failed', num(t.topologyStats.failed)]]);
  const workersCard = document.querySelectorAll('#topology-summary .card')[3];
  if (short && workersCard) {
    workersCard.classList.add('short');
    workersCard.title = 'The cluster has no free slot for the other workers: add supervisors or slots, or rebalance.';
    workersCard.dataset.field = 'workers-short';
  }
  const buffer = (t.configuration || {})['topology.executor.receive.buffer.size'] || 64;
  const loads = {};
  for (const b of t.bolts) loads[b.boltId] = loadOf(b, buffer);
  fillTable('spouts', [
    ['Spout', r => componentLink(t.id, r.spoutId)], ['Executors', r => r.executors], ['Tasks', r => r.tasks],
    ['Emitted', r => num(r.emitted), 'emitted'], ['Transferred', r => num(r.transferred), 'transferred'],
    ['Acked', r => num(r.acked), 'acked'], ['Failed', r => num(r.failed), 'failed'],
    ['Complete ms (mean)', r => ms(r.completeLatency)], ['p50', r => ms(r.completeLatencyP50)],
    ['p99', r => ms(r.completeLatencyP99)], ['Pending', r => num(r.pending)], ['Last error', errorCell, 'error', 'error']],
  t.spouts, r => `class="spout-row" data-component="${esc(r.spoutId)}"`);
  fillTable('bolts', [
    ['Bolt', r => componentLink(t.id, r.boltId)], ['Executors', r => r.executors], ['Tasks', r => r.tasks],
    ['Executed', r => num(r.executed), 'executed'], ['Emitted', r => num(r.emitted), 'emitted'],
    ['Execute ms', r => ms(r.executeLatency)], ['Process ms', r => ms(r.processLatency)],
    ['Capacity', r => ratio(r.capacity)], ['Acked', r => num(r.acked), 'acked'], ['Failed', r => num(r.failed), 'failed'],
    ['Queue', r => num(r.queueDepth)], ['Last error', errorCell, 'error', 'error']],
  t.bolts, r => `class="bolt-row" data-component="${esc(r.boltId)}" data-load="${loads[r.boltId]}"`);
  const logLink = r => ({ html: `<a class="worker-log" href="/api/v1/topology/${encodeURIComponent(t.id)}/log/${encodeURIComponent(r.host)}/${r.port}">log</a>` });
  fillTable('workers', [['Host', r => r.host], ['Port', r => r.port], ['Pid', r => r.pid],
    ['Uptime', r => duration(r.uptimeSeconds)], ['Memory', r => mb(r.memoryBytes)], ['Log', logLink]], t.workers);
  const conf = Object.entries(t.configuration || {}).sort(([a], [b]) => a.localeCompare(b));
  fillTable('configuration', [['Key', r => r[0]], ['Value', r => JSON.stringify(r[1]), 'conf', 'conf']], conf,
    r => `data-key="${esc(r[0])}"`);
  const [dag, series] = await Promise.all([
    api(`/api/v1/topology/${encodeURIComponent(id)}/visualization`),
    api(`/api/v1/topology/${encodeURIComponent(id)}/series`)]);
  drawDag(document.getElementById('dag'), dag, loads);
  drawCharts(series, () => true);
}

// How loaded a bolt is: its capacity (share of the window spent executing, busiest executor)
// or its input queues' fill, whichever is higher. Full queues are where backpressure starts.
function loadOf(bolt, bufferBatches) {
  const fill = (bolt.queueDepth || 0) / Math.max(1, (bolt.executors || 1) * bufferBatches);
  const load = Math.max(bolt.capacity || 0, fill);
  return load >= 0.8 ? 'hot' : load >= 0.5 ? 'warm' : 'ok';
}

const SVG = 'http://www.w3.org/2000/svg';
function svgEl(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

// Components in columns by their depth from the spouts; each subscription an arrow labelled
// with its grouping and current rate.
function drawDag(svg, dag, loads) {
  loads = loads || {};
  svg.innerHTML = '';
  const W = 190, H = 46, GX = 190, GY = 34, PAD = 20;
  const columns = {};
  for (const n of dag.nodes) (columns[n.depth] = columns[n.depth] || []).push(n);
  const pos = {};
  let maxRows = 1;
  for (const [d, nodes] of Object.entries(columns)) {
    maxRows = Math.max(maxRows, nodes.length);
    nodes.forEach((n, i) => { pos[n.id] = { x: PAD + d * (W + GX), y: PAD + i * (H + GY) }; });
  }
  const depth = Math.max(0, ...dag.nodes.map(n => n.depth));
  const width = PAD * 2 + (depth + 1) * W + depth * GX;
  const height = PAD * 2 + maxRows * H + (maxRows - 1) * GY + 20;
  // Drawn at its natural size (scaled down only when the page is narrower), so labels stay legible.
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  const defs = svgEl('defs', {}, svg);
  const marker = svgEl('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' }, defs);
  svgEl('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8b96a8' }, marker);
  dag.edges.forEach((e, i) => {
    const a = pos[e.source], b = pos[e.target];
    if (!a || !b) return;
    const g = svgEl('g', { class: 'edge', 'data-source': e.source, 'data-target': e.target }, svg);
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    const d = x2 > x1
      ? `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`
      : `M${a.x + W / 2},${a.y + H} C${a.x + W / 2},${a.y + H + 40} ${b.x + W / 2},${b.y + H + 40} ${b.x + W / 2},${b.y + H}`;
    svgEl('path', { d }, g);
    const label = svgEl('text', { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 6 - (i % 2) * 12, 'text-anchor': 'middle' }, g);
    label.textContent = `${e.grouping} · ${Math.round(e.ratePerSec).toLocaleString('en-US')}/s`;
  });
  for (const n of dag.nodes) {
    const p = pos[n.id];
    const load = loads[n.id];
    const g = svgEl('g', { class: `node ${n.kind}${load ? ' load-' + load : ''}`, 'data-component': n.id }, svg);
    if (load) g.setAttribute('data-load', load);
    svgEl('rect', { x: p.x, y: p.y, width: W, height: H, rx: 6 }, g);
    const t1 = svgEl('text', { x: p.x + 10, y: p.y + 19 }, g);
    t1.textContent = n.id;
    const t2 = svgEl('text', { x: p.x + 10, y: p.y + 36, fill: '#647083' }, g);
    t2.textContent = `${n.kind} · ${n.parallelism} executors · ${n.tasks} tasks`;
  }
}

const COLORS = ['#2d6cdf', '#2f9a53', '#c2792b', '#8e44ad', '#c23b3b', '#16a0a0'];

// A line chart: each series a list of [unix seconds, value].
function lineChart(svg, series, unit) {
  svg.innerHTML = '';
  // The legend takes a row per four series above the plot.
  const W = 600, H = 180, L = 56, R = 10, B = 24, T = 16 + Math.ceil(series.length / 4) * 12;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const points = series.flatMap(s => s.points);
  if (!points.length) {
    svgEl('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', fill: '#647083' }, svg).textContent = 'no data yet';
    return;
  }
  const t0 = Math.min(...points.map(p => p[0])), t1 = Math.max(...points.map(p => p[0]), t0 + 1);
  const vmax = Math.max(...points.map(p => p[1]), 1e-9) * 1.1;
  const x = t => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = v => H - B - v / vmax * (H - T - B);
  svgEl('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#d9dee7' }, svg);
  for (const f of [0, 0.5, 1]) {
    svgEl('line', { x1: L, y1: y(vmax * f / 1.1), x2: W - R, y2: y(vmax * f / 1.1), stroke: '#eef0f4' }, svg);
    const label = svgEl('text', { x: L - 4, y: y(vmax * f / 1.1) + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#647083' }, svg);
    label.textContent = (vmax * f / 1.1).toLocaleString('en-US', { maximumFractionDigits: vmax < 10 ? 2 : 0 }) + unit;
  }
  const tl = svgEl('text', { x: L, y: H - 6, 'font-size': 10, fill: '#647083' }, svg);
  tl.textContent = new Date(t0 * 1000).toLocaleTimeString();
  const tr = svgEl('text', { x: W - R, y: H - 6, 'font-size': 10, fill: '#647083', 'text-anchor': 'end' }, svg);
  tr.textContent = new Date(t1 * 1000).toLocaleTimeString();
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    svgEl('polyline', { points: s.points.map(p => `${x(p[0])},${y(p[1])}`).join(' '), fill: 'none', stroke: color, 'stroke-width': 2, 'data-series': s.name }, svg);
    const legend = svgEl('text', { x: L + 8 + (i % 4) * 130, y: 12 + Math.floor(i / 4) * 12, 'font-size': 11, fill: color }, svg);
    legend.textContent = s.name;
  });
}

// Throughput and latency per component over the last hour: spouts' emitted, acked and failed
// rates and complete latency; bolts' executed and failed rates and execute latency.
function drawCharts(data, wanted) {
  const width = data.bucketSeconds || 10;
  // The newest bucket is still filling; leave it out so the lines do not dip at the end.
  const settled = pts => pts.slice(0, -1);
  const shown = data.series.filter(s => s.component !== '__acker' && wanted(s));
  const rate = (s, field, label) => ({ name: `${s.component} ${label}`, points: settled(s.points).map(p => [p.t, p[field] / width]) });
  const throughput = shown.flatMap(s => s.kind === 'spout'
    ? [rate(s, 'emitted', 'emitted'), rate(s, 'acked', 'acked'), rate(s, 'failed', 'failed')]
    : [rate(s, 'executed', 'executed'), rate(s, 'failed', 'failed')]);
  lineChart(document.getElementById('chart-throughput'), throughput, '');
  const latency = (s, field, label) => ({ name: `${s.component} ${label}`, points: settled(s.points).filter(p => p[field] > 0).map(p => [p.t, p[field]]) });
  const latencies = shown.flatMap(s => s.kind === 'spout'
    ? [latency(s, 'completeP99Ms', 'p99'), latency(s, 'completeMeanMs', 'mean')]
    : [latency(s, 'executeP99Ms', 'p99'), latency(s, 'executeMeanMs', 'mean')]);
  lineChart(document.getElementById('chart-latency'), latencies, '');
}

async function act(action) {
  const id = encodeURIComponent(params.get('id'));
  let path = `/api/v1/topology/${id}/${action}`;
  let body;
  if (action === 'kill') {
    const wait = prompt('Kill this topology? Seconds to let tuples in flight finish:', '30');
    if (wait === null) return;
    path += `/${parseInt(wait, 10) || 0}`;
  } else if (action === 'rebalance') {
    const workers = prompt('Rebalance: number of workers (empty keeps the current number):', '');
    if (workers === null) return;
    if (!confirm('Rebalance this topology? Its spouts pause while executors move.')) return;
    path += '/30';
    const n = parseInt(workers, 10);
    body = JSON.stringify({ rebalanceOptions: n > 0 ? { numWorkers: n } : {} });
  } else if (!confirm(`${action[0].toUpperCase() + action.slice(1)} this topology?`)) {
    return;
  }
  try {
    await api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (action === 'kill') location.href = '/';
  } catch (e) {
    alert(`${action} failed: ${e.message}`);
  }
}

// ------------------------------------------------------------------ component page
async function componentPage() {
  const id = params.get('id'), component = params.get('component');
  const window = document.getElementById('window').value;
  const c = await api(`/api/v1/topology/${encodeURIComponent(id)}/component/${encodeURIComponent(component)}?window=${window}`);
  document.getElementById('title').innerHTML = `<a href="/topology.html?id=${encodeURIComponent(c.topologyId)}" style="color:#fff">${esc(c.name)}</a> / ${esc(c.id)}`;
  const spout = c.componentType === 'spout';
  cards('component-summary', [['Component', c.id], ['Type', c.componentType], ['Executors', c.executors], ['Tasks', c.tasks],
    ['Emitted', num(c.emitted)], ['Acked', num(c.acked)], ['Failed', num(c.failed)],
    spout ? ['Complete p99 ms', ms(c.completeLatencyP99)] : ['Capacity', ratio(c.capacity)],
    spout ? ['Pending', num(c.pending)] : ['Execute p99 ms', ms(c.executeLatencyP99)], ['Errors', num(c.errors)]]);
  document.getElementById('inputs-section').hidden = spout;
  if (!spout) {
    fillTable('inputs', [['From', r => r.component], ['Stream', r => r.stream], ['Executed', r => num(r.executed), 'executed'],
      ['Acked', r => num(r.acked), 'acked'], ['Failed', r => num(r.failed), 'failed']], c.inputStats || [],
    r => `class="input-row" data-source="${esc(r.component)}" data-stream="${esc(r.stream)}"`);
  }
  fillTable('streams', [['Stream', r => r.stream], ['Emitted', r => num(r.emitted)], ['Transferred', r => num(r.transferred)]], c.outputStats);
  const series = await api(`/api/v1/topology/${encodeURIComponent(id)}/series`);
  drawCharts(series, s => s.component === component);
  const columns = [['Executor', r => r.id], ['Host', r => r.host], ['Port', r => r.port], ['Uptime', r => duration(r.uptimeSeconds)],
    ['Emitted', r => num(r.emitted)], ['Transferred', r => num(r.transferred)], ['Acked', r => num(r.acked)], ['Failed', r => num(r.failed)]];
  if (spout) columns.push(['Complete ms', r => ms(r.completeLatency)], ['Pending', r => num(r.pending)]);
  else columns.push(['Executed', r => num(r.executed)], ['Execute ms', r => ms(r.executeLatency)],
    ['Process ms', r => ms(r.processLatency)], ['Capacity', r => ratio(r.capacity)], ['Queue', r => num(r.queueDepth)]);
  fillTable('executors', columns, c.executorStats, r => `class="executor-row" data-executor="${esc(r.id)}"`);
  fillTable('errors', [['Time', r => when(r.errorTime)], ['Host', r => r.errorHost], ['Port', r => r.errorPort],
    ['Task', r => r.errorTask], ['Error', r => r.error, 'error', 'error']], c.componentErrors, () => 'class="error-row"');
}

const pages = { cluster: clusterPage, topology: topologyPage, component: componentPage };
const page = pages[document.body.dataset.page];
if (page) {
  every(page);
  const select = document.getElementById('window');
  if (select) select.addEventListener('change', () => page().then(() => stamp(), stamp));
  for (const b of document.querySelectorAll('button[data-action]')) b.addEventListener('click', () => act(b.dataset.action));
}
