import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SluiceError } from '../core/index.js';
import { bytesText, csrfField, html } from './html.js';
import { parseInput, type WebRoutes } from './routes.js';

/** Backups made from the dashboard go here, under names it chose itself (the web never writes where a form says). */
const BACKUP_DIR = 'backups';
const BACKUP_NAME = /^sluice-backup-\d{8}T\d{6}Z\.sluicebk$/;

const backupForm = z
  .object({
    passphrase: z.string().max(1024).optional().transform((v) => v || undefined),
    passphrase_again: z.string().max(1024).optional().transform((v) => v || undefined),
    config_only: z.literal('yes', { error: 'config_only: expected the checkbox value "yes"' }).optional(),
  })
  .refine((f) => f.passphrase === f.passphrase_again, { error: 'the two passphrases differ; type the same one twice', path: ['passphrase_again'] });

/** `sluice-backup-20261201T115800Z.sluicebk` for a time. */
function backupName(ms: number): string {
  return `sluice-backup-${new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}.sluicebk`;
}

const eraseForm = z.object({
  device: z.string().max(64).optional().transform((v) => v || undefined),
  before: z.string().max(40).optional().transform((v) => v || undefined),
});

/** Data: what the store holds, retention, the quarantine, and erase with counts first. */
export function registerDataPages(r: WebRoutes, deps: { dataDir: string; now: () => number }): void {
  const backupDir = join(deps.dataDir, BACKUP_DIR);
  r.app.get('/data', async (req, reply) => {
    const info = await r.call('db.info');
    const { csrf } = r.session(req);
    const body = html`<h1>Data</h1>
<section aria-labelledby="db"><h2 id="db">What is stored</h2><dl>
<dt>Database</dt><dd>${bytesText(info.bytes)}</dd>
<dt>Readings</dt><dd>${info.readings + info.unsealed_readings} in ${info.series} series${info.unsealed_readings > 0 ? ` (${info.unsealed_readings} of them recent, in the write-ahead hot log until the hourly seal)` : ''}</dd>
<dt>Oldest reading</dt><dd>${info.oldest_reading ?? (info.unsealed_readings > 0 ? 'only recent ones, not yet sealed' : 'none')}</dd>
<dt>Newest reading</dt><dd>${info.newest_reading ?? (info.unsealed_readings > 0 ? 'only recent ones, not yet sealed' : 'none')}</dd>
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
<section aria-labelledby="backup"><h2 id="backup">Backup</h2>
<p>A backup is one consistent copy of everything Sluice keeps: readings, the ledger, the household secret, policies, device profiles and settings. Devices keep publishing while it is made. It is saved on the gateway in <code>${backupDir}</code>, and you can download it afterwards.</p>
<p>Without a passphrase the backup is as sensitive as the gateway itself (it holds the signing keys): give one, and keep it somewhere safe; a lost passphrase cannot be recovered.</p>
<form method="post" action="/data/backup">${csrfField(csrf)}
<label for="backup-passphrase">Passphrase (at least 8 characters; empty: not encrypted)</label><input id="backup-passphrase" name="passphrase" type="password" autocomplete="new-password" minlength="8">
<label for="backup-passphrase-again">Passphrase again</label><input id="backup-passphrase-again" name="passphrase_again" type="password" autocomplete="new-password">
<p class="check"><input type="checkbox" id="backup-config-only" name="config_only" value="yes"><label for="backup-config-only">Settings only, without readings (for a copy that leaves the house)</label></p>
<div class="actions"><button type="submit">Create backup</button></div></form>
<p><strong>Restore</strong> is not offered here: it replaces the database, so it runs only with the gateway stopped, from the command line on the gateway: <code>sluice backup restore FILE</code> (see the guide "Your data").</p>
<p class="muted">Erase does not reach backups: delete old backup files yourself once you no longer need them.</p></section>`;
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

  r.app.post('/data/backup', async (req, reply) => {
    const f = parseInput(backupForm, req.body);
    mkdirSync(backupDir, { recursive: true, mode: 0o700 });
    const name = backupName(deps.now());
    const file = join(backupDir, name);
    if (existsSync(file)) throw new SluiceError('SLUICE_ERR_USAGE', 'a backup was made this very second; wait a moment and try again');
    const b = await r.call('backup.create', { file, passphrase: f.passphrase, configOnly: f.config_only === 'yes' });
    const body = html`<h1>Backup created</h1>
<div class="banner ok" role="status"><p>The backup is saved on the gateway.</p></div>
<dl>
<dt>File</dt><dd><code>${b.file}</code></dd>
<dt>Size</dt><dd>${bytesText(b.bytes)}</dd>
<dt>Encrypted</dt><dd>${b.encrypted ? 'yes, with your passphrase' : 'no: keep it as safe as the gateway itself'}</dd>
<dt>Readings</dt><dd>${b.config_only ? 'none (settings only)' : b.readings}</dd>
<dt>Ledger</dt><dd>${b.ledger_head ? `up to row ${b.ledger_head.seq}` : 'empty'}</dd>
</dl>
<div class="actions"><a class="button" href="/data/backups/${encodeURIComponent(name)}" download>Download the backup</a><a class="button secondary" href="/data">Back to Data</a></div>
<p>To restore it later: stop the gateway, then run <code>sluice backup restore ${b.file}</code>${b.encrypted ? ' with the passphrase in a variable named by --passphrase-env' : ''}.</p>`;
    return r.page(reply, req, 'Backup created', 'data', body);
  });

  r.app.get('/data/backups/:file', async (req, reply) => {
    const { file } = parseInput(z.object({ file: z.string().regex(BACKUP_NAME, { error: 'not a backup made by the dashboard' }) }), req.params);
    const path = join(backupDir, file);
    if (!existsSync(path)) return reply.code(404).type('text/plain; charset=utf-8').send('no such backup');
    return reply.type('application/octet-stream').header('Content-Disposition', `attachment; filename="${file}"`).send(createReadStream(path));
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
