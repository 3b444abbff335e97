import { z } from 'zod';
import { bytesText, csrfField, html } from './html.js';
import { parseInput, type WebRoutes } from './routes.js';

const eraseForm = z.object({
  device: z.string().max(64).optional().transform((v) => v || undefined),
  before: z.string().max(40).optional().transform((v) => v || undefined),
});

/** Data: what the store holds, retention, the quarantine, and erase with counts first. */
export function registerDataPages(r: WebRoutes): void {
  r.app.get('/data', async (req, reply) => {
    const info = await r.call('db.info');
    const { csrf } = r.session(req);
    const body = html`<h1>Data</h1>
<section aria-labelledby="db"><h2 id="db">What is stored</h2><dl>
<dt>Database</dt><dd>${bytesText(info.bytes)}</dd>
<dt>Readings</dt><dd>${info.readings} in ${info.series} series</dd>
<dt>Oldest reading</dt><dd>${info.oldest_reading ?? 'none'}</dd>
<dt>Newest reading</dt><dd>${info.newest_reading ?? 'none'}</dd>
<dt>Hourly rollups</dt><dd>${info.rollups}</dd>
<dt>Retention</dt><dd>raw readings ${info.retention.raw_days} days, rollups ${info.retention.rollup_days} days</dd>
<dt>Free disk</dt><dd>${info.free_disk_bytes === null ? 'unknown' : bytesText(info.free_disk_bytes)}</dd>
</dl><p><a href="/quarantine">Quarantine (${info.quarantine} messages)</a></p></section>
<section aria-labelledby="erase"><h2 id="erase">Erase readings</h2>
<p>First you see how much would go; nothing is removed until you confirm.</p>
<form method="post" action="/data/erase">${csrfField(csrf)}
<label for="erase-device">Device (empty: every device)</label><input id="erase-device" name="device">
<label for="erase-before">Before date (YYYY-MM-DD, empty: all time)</label><input id="erase-before" name="before" pattern="\\d{4}-\\d{2}-\\d{2}">
<div class="actions"><button type="submit" class="secondary">Count what would be erased</button></div></form></section>
<section aria-labelledby="backup"><h2 id="backup">Backup</h2><p>Backups from the dashboard are not available in this version.</p></section>`;
    return r.page(reply, req, 'Data', 'data', body);
  });

  r.app.post('/data/erase', async (req, reply) => {
    const f = parseInput(eraseForm, req.body);
    const scope = { device: f.device, before: f.before, all: f.device === undefined && f.before === undefined };
    const counts = await r.call('erase', { ...scope, yes: false });
    const w = counts.would_remove!;
    const body = html`<h1>Erase ${f.device ? `readings of ${f.device}` : 'readings of every device'}${f.before ? ` before ${f.before}` : ''}?</h1>
<p>This removes ${w.readings} readings, ${w.rollups} hourly rollups, ${w.quarantine} quarantined messages and ${w.series} series. It cannot be undone.</p>
<div class="actions"><form method="post" action="/data/erase/confirm" class="inline">${csrfField(r.session(req).csrf)}<input type="hidden" name="device" value="${f.device ?? ''}"><input type="hidden" name="before" value="${f.before ?? ''}"><button type="submit" class="danger">Yes, erase</button></form>
<a class="button secondary" href="/data">Cancel</a></div>`;
    return r.page(reply, req, 'Erase?', 'data', body);
  });

  r.app.post('/data/erase/confirm', async (req, reply) => {
    const f = parseInput(eraseForm, req.body);
    const done = await r.call('erase', { device: f.device, before: f.before, all: f.device === undefined && f.before === undefined, yes: true });
    const rm = done.removed!;
    return r.page(reply, req, 'Erased', 'data', html`<h1>Erased</h1><p>Removed ${rm.readings} readings, ${rm.rollups} rollups, ${rm.quarantine} quarantined messages.</p><p><a href="/data">Back to Data</a></p>`);
  });

  r.app.get('/quarantine', async (req, reply) => {
    const q = parseInput(z.object({ device: z.string().max(64).optional() }), req.query);
    const rows = await r.call('quarantine', { device: q.device });
    const body = html`<h1>Quarantine</h1>
<p>Messages that could not be read as readings. They were not stored as readings; at most their first 256 bytes are kept.</p>
${
  rows.length === 0
    ? html`<p>Nothing in quarantine.</p>`
    : html`<div class="table-wrap"><table><thead><tr><th scope="col">When</th><th scope="col">Device</th><th scope="col">Reason</th><th scope="col">Message</th></tr></thead><tbody>${rows.slice(0, 200).map((x) => html`<tr><td>${x.received_at}</td><td>${x.device ? html`<a href="/devices/${encodeURIComponent(x.device)}">${x.device}</a>` : 'unknown'}</td><td>${x.reason}</td><td>${x.message}</td></tr>`)}</tbody></table></div>`
}`;
    return r.page(reply, req, 'Quarantine', 'data', body);
  });
}
