import { z } from 'zod';
import type { DeviceSharing } from '../app/index.js';
import { SluiceError } from '../core/index.js';
import { csrfField, html, when } from './html.js';
import { parseInput, type WebRoutes } from './routes.js';

const idParam = z.object({ id: z.string().min(1).max(64) });
const RANGES = ['24h', '7d', '30d'] as const;

function badges(shares: DeviceSharing[] | undefined) {
  const inForce = (shares ?? []).filter((s) => s.in_force);
  if (inForce.length === 0) return html`<span class="badge home">Stays home</span>`;
  return inForce.map((s) => html`<span class="badge shared">Shared with ${s.vendor}: ${s.what}</span> `);
}

function source(d: { role: string; via: string | null; source: string | null; simulated: boolean }): string {
  if (d.via) return `discovered through bridge ${d.via}${d.source ? ` (${d.source})` : ''}`;
  if (d.role === 'bridge') return 'bridge';
  if (d.role === 'household') return 'household tool';
  return d.simulated ? 'native (simulated)' : 'native';
}

/** In words, never by colour alone. */
const presenceText = (p: string | undefined) => (p === 'online' ? 'Online' : p === 'offline' ? 'Offline' : 'Status not reported');

const valueText = (v: unknown, unit: string | null) => `${typeof v === 'object' ? JSON.stringify(v) : String(v)}${unit ? ` ${unit}` : ''}`;

/** Devices: the list, one device with live values and charts, add, new password, remove. */
export function registerDevicePages(r: WebRoutes): void {
  r.app.get('/devices', async (req, reply) => {
    const [devices, sharing, presence] = await Promise.all([r.call('devices.list'), r.call('devices.sharing'), r.call('devices.presence')]);
    const rows = await Promise.all(devices.map(async (d) => ({ d, show: await r.call('devices.show', { id: d.id }) })));
    const { csrf } = r.session(req);
    const body = html`<h1>Devices</h1>
${
  rows.length === 0
    ? html`<p>No devices yet.</p>`
    : html`<div class="table-wrap"><table class="stack"><thead><tr><th scope="col">Device</th><th scope="col">Kind</th><th scope="col">Source</th><th scope="col">Status</th><th scope="col">Last seen</th><th scope="col">Who receives what</th></tr></thead><tbody>
${rows.map(({ d, show }) => {
  const last = show.latest.map((l) => l.ts).sort().at(-1);
  return html`<tr><td data-label="Device"><a href="/devices/${encodeURIComponent(d.id)}">${d.id}</a></td><td data-label="Kind">${d.profile ?? d.role}</td><td data-label="Source">${source(d)}</td><td data-label="Status">${presenceText(presence[d.id])}</td><td data-label="Last seen">${last ? when(last, r.timezone, true) : 'never'}</td><td data-label="Receives">${badges(Object.hasOwn(sharing, d.id) ? sharing[d.id] : undefined)}</td></tr>`;
})}
</tbody></table></div>`
}
<section aria-labelledby="add-device"><h2 id="add-device">Add a device</h2>
<form method="post" action="/devices">${csrfField(csrf)}
<label for="device-id">Device name (id)</label><input id="device-id" name="id" required pattern="[a-z0-9][a-z0-9_-]{0,63}" autocomplete="off">
<label for="device-profile">Profile</label><input id="device-profile" name="profile" required autocomplete="off">
<div class="actions"><button type="submit">Add device</button></div></form></section>`;
    return r.page(reply, req, 'Devices', 'devices', body);
  });

  r.app.post('/devices', async (req, reply) => {
    const p = parseInput(z.object({ id: z.string().min(1, { error: 'a device name is required' }).max(64), profile: z.string().min(1, { error: 'a profile is required' }).max(64) }), req.body);
    const creds = await r.call('devices.add', { id: p.id, profile: p.profile });
    return r.page(reply, req, `Added ${creds.id}`, 'devices', credentialsBody('Added', creds), 201);
  });

  r.app.get('/devices/:id', async (req, reply) => {
    const { id } = parseInput(idParam, req.params);
    const range = parseInput(z.object({ range: z.enum(RANGES).default('24h') }), req.query).range;
    const [show, sharing, quarantine, presence] = await Promise.all([r.call('devices.show', { id }), r.call('devices.sharing'), r.call('quarantine', { device: id }), r.call('devices.presence')]);
    const { csrf } = r.session(req);
    const metrics = [...new Set(show.latest.filter((l) => typeof l.value === 'number').map((l) => l.metric))];
    const enc = encodeURIComponent(id);
    const body = html`<h1>Device ${id}</h1>
<p>${show.profile ?? show.role} · ${source(show)} · ${presenceText(presence[id])} · ${badges(Object.hasOwn(sharing, id) ? sharing[id] : undefined)}</p>
<section aria-labelledby="latest"><h2 id="latest">Latest values</h2>
${
  show.latest.length === 0
    ? html`<p>No readings yet.</p>`
    : html`<dl data-live="/events/devices/${enc}">${show.latest.map((l) => {
        const key = l.component ? `${l.component}.${l.metric}` : l.metric;
        return html`<dt>${key}</dt><dd data-metric="${key}">${valueText(l.value, l.unit)} <span class="muted">at ${when(l.ts, r.timezone, true)}</span></dd>`;
      })}</dl>`
}</section>
<section aria-labelledby="charts"><h2 id="charts">Charts</h2>
<p>Range: ${RANGES.map((g) => html`<a href="/devices/${enc}?range=${g}"${g === range ? html` aria-current="true"` : ''}>${g === '24h' ? 'Last 24 hours' : g === '7d' ? 'Last 7 days' : 'Last 30 days'}</a> `)}</p>
${metrics.length === 0 ? html`<p>No numeric readings to chart.</p>` : ''}
${metrics.map(
  (m) => html`<figure class="card"><figcaption><strong>${m}</strong>, ${range} · <a href="/api/devices/${enc}/series.csv?metric=${encodeURIComponent(m)}&amp;range=${range}">Download CSV</a></figcaption>
<div class="chart" data-chart="/api/devices/${enc}/series?metric=${encodeURIComponent(m)}&amp;range=${range}" role="img" aria-label="Chart of ${m} over ${range}"><div class="plot"></div><p class="chart-status muted">Loading chart…</p></div></figure>`,
)}</section>
<section aria-labelledby="device-quarantine"><h2 id="device-quarantine">Quarantine</h2>
${quarantine.length === 0 ? html`<p>No messages from this device were refused.</p>` : html`<ul>${quarantine.slice(0, 50).map((q) => html`<li>${q.received_at}: ${q.reason} — ${q.message}</li>`)}</ul>`}
</section>
<section aria-labelledby="device-manage"><h2 id="device-manage">Manage</h2>
<div class="actions">
<form method="post" action="/devices/${enc}/passwd" class="inline">${csrfField(csrf)}<button type="submit" class="secondary">New password</button></form>
<form method="get" action="/devices/${enc}/remove" class="inline"><button type="submit" class="danger">Remove device</button></form>
</div></section>`;
    return r.page(reply, req, `Device ${id}`, 'devices', body);
  });

  r.app.get('/api/devices/:id/series', async (req) => {
    const { id } = parseInput(idParam, req.params);
    const q = parseInput(z.object({ metric: z.string().min(1).max(64), range: z.enum(RANGES).default('24h') }), req.query);
    const s = await r.call('readings.series', { id, metric: q.metric, range: q.range });
    return { unit: s.unit, series: [{ label: `${q.metric} (stays home)`, ts: s.ts, values: s.values }] };
  });

  r.app.get('/api/devices/:id/series.csv', async (req, reply) => {
    const { id } = parseInput(idParam, req.params);
    const q = parseInput(z.object({ metric: z.string().min(1).max(64), range: z.enum(RANGES).default('24h') }), req.query);
    const s = await r.call('readings.series', { id, metric: q.metric, range: q.range });
    const lines = ['time,value,unit', ...s.ts.map((t, i) => `${new Date(t).toISOString()},${s.values[i]},${s.unit ?? ''}`)];
    return reply
      .type('text/csv; charset=utf-8')
      .header('Content-Disposition', `attachment; filename="${id}-${q.metric}-${q.range}.csv"`)
      .send(`${lines.join('\n')}\n`);
  });

  r.app.post('/devices/:id/passwd', async (req, reply) => {
    const { id } = parseInput(idParam, req.params);
    const creds = await r.call('devices.passwd', { id });
    return r.page(reply, req, `New password for ${id}`, 'devices', credentialsBody('New password for', { ...creds, password: creds.password }));
  });

  r.app.get('/devices/:id/remove', async (req, reply) => {
    const { id } = parseInput(idParam, req.params);
    await r.call('devices.show', { id });
    const enc = encodeURIComponent(id);
    const body = html`<h1>Remove device ${id}?</h1>
<p>The device can no longer connect. Its stored readings stay until you erase them on the Data page.</p>
<div class="actions"><form method="post" action="/devices/${enc}/remove" class="inline">${csrfField(r.session(req).csrf)}<button type="submit" class="danger">Remove ${id}</button></form>
<a class="button secondary" href="/devices/${enc}">Cancel</a></div>`;
    return r.page(reply, req, `Remove ${id}`, 'devices', body);
  });

  r.app.post('/devices/:id/remove', async (req, reply) => {
    const { id } = parseInput(idParam, req.params);
    await r.call('devices.remove', { id });
    return r.page(reply, req, `Removed ${id}`, 'devices', html`<h1>Removed ${id}</h1><p><a href="/devices">Back to the device list</a></p>`);
  });

  // Live latest values of one device over server-sent events.
  r.app.get('/events/devices/:id', async (req, reply) => {
    const { id } = parseInput(idParam, req.params);
    await r.call('devices.show', { id });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Content-Type-Options': 'nosniff' });
    res.write(': connected\n\n');
    const owner = {};
    r.events.on('readings.committed', owner, (e) => {
      if (!e.deviceIds.includes(id)) return;
      r.call('devices.show', { id }).then(
        (show) => {
          const rows = show.latest.map((l) => ({ key: l.component ? `${l.component}.${l.metric}` : l.metric, text: `${valueText(l.value, l.unit)} at ${when(l.ts, r.timezone, true)}` }));
          res.write(`event: latest\ndata: ${JSON.stringify(rows)}\n\n`);
        },
        () => r.events.off(owner),
      );
    });
    req.raw.on('close', () => r.events.off(owner));
  });
}

function credentialsBody(verb: string, c: { id: string; username: string; password: string | null }) {
  if (c.password === null) throw new SluiceError('SLUICE_ERR_USAGE', `${c.id} is behind a bridge and has no password of its own`);
  return html`<h1>${verb} ${c.id}</h1>
<div class="banner" role="status"><p>The password is shown only now. Put it into the device; Sluice keeps only a hash of it.</p></div>
<dl><dt>MQTT username</dt><dd><code>${c.username}</code></dd><dt>MQTT password</dt><dd><code>${c.password}</code></dd></dl>
<p><a href="/devices/${encodeURIComponent(c.id)}">Open ${c.id}</a> · <a href="/devices">Back to the device list</a></p>`;
}
