import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { LedgerRow } from '../app/index.js';
import { csrfField, html, when } from './html.js';
import { parseInput, type WebRoutes } from './routes.js';

const filterSchema = z.object({
  vendor: z.string().max(200).optional().transform((v) => v || undefined),
  kind: z.string().max(64).optional().transform((v) => v || undefined),
});

const KIND_TEXT: Record<string, string> = {
  'policy.approved': 'Policy approved',
  'policy.revoked': 'Policy revoked',
  'policy.changed': 'Policy file changed',
  'policy.expired': 'Policy expired',
  'disclosure.attempted': 'Send attempted',
  'disclosure.acknowledged': 'Summary sent and received by vendor',
  'disclosure.failed': 'Send failed',
  'disclosure.dropped': 'Summary deleted unsent',
  'disclosure.noised': 'Noise added and privacy budget spent',
  'disclosure.withheld': 'Nothing sent for a window (withheld)',
  'disclosure.retrying': 'Send to be retried',
  'disclosure.resent': 'Failed summary queued again',
  'erasure.requested': 'Erasure request queued',
  'erasure.attempted': 'Erasure request sent',
  'erasure.retrying': 'Erasure request to be retried',
  'erasure.acknowledged': 'Erasure request received by vendor',
  'erasure.failed': 'Erasure request failed',
  'policy.consented': 'Member approved a policy',
  'policy.vetoed': 'Member vetoed a policy',
  'consent.recorded': 'Consent record written',
  'member.changed': 'Household member changed',
  'pause.started': 'Privacy pause started',
  'pause.ended': 'Privacy pause ended',
  'intent.drafted': 'Intent drafted',
  'intent.approved': 'Intent approved',
  'intent.dropped': 'Intent dropped',
  'intent.sent': 'Intent sent to vendor',
  'intent.closed': 'Intent closed',
  'offer.received': 'Offer received',
  'offer.accepted': 'Offer accepted',
  'offer.declined': 'Offer declined',
  'acceptance.sent': 'Acceptance sent to vendor',
  'backup.restored': 'Backup restored',
};
/** Filter groups: every kind that starts with the group's name. */
const KIND_GROUPS: Record<string, string> = { policy: 'All consent events', disclosure: 'All disclosures', erasure: 'All erasure requests', intent: 'All intents', offer: 'All offers' };

/** A ledger row's detail for a person: key: value pairs, long hashes shortened, bytes named. */
function detailText(row: LedgerRow, digests: Map<string, string>): string {
  const parts: string[] = [];
  if (row.summary_id && digests.has(row.summary_id)) parts.push(`summary ${digests.get(row.summary_id)!.slice(0, 12)}…`);
  for (const [k, v] of Object.entries(row.detail)) {
    if (k === 'body_sha256' || k === 'at') continue;
    let text = typeof v === 'string' ? v : JSON.stringify(v);
    if (k === 'bytes' && typeof v === 'number') text = `${v} bytes sent`;
    if (/^[0-9a-f]{40,}$/.test(text)) text = `${text.slice(0, 12)}…`;
    parts.push(k === 'bytes' ? text : `${k.replace(/_/g, ' ')}: ${text}`);
  }
  return parts.join('; ');
}

async function filtered(r: WebRoutes, q: unknown): Promise<{ rows: LedgerRow[]; vendor?: string | undefined; kind?: string | undefined }> {
  const f = parseInput(filterSchema, q);
  const all = await r.call('ledger.show', { vendor: f.vendor });
  return { rows: f.kind ? all.filter((row) => row.kind === f.kind || row.kind.startsWith(`${f.kind}.`)) : all, ...f };
}

/** Ledger: every consent and disclosure, filters, verify chain, CSV/JSON export. */
export function registerLedgerPages(r: WebRoutes): void {
  const draw = async (req: FastifyRequest, verify: Awaited<ReturnType<typeof r.call<'ledger.verify'>>> | null) => {
    const { rows, vendor, kind } = await filtered(r, req.query);
    const summaries = await r.call('policy.summaries', {});
    const bytesOf = new Map<string, string>(summaries.map((s) => [s.id, s.body_sha256]));
    const qs = new URLSearchParams({ ...(vendor ? { vendor } : {}), ...(kind ? { kind } : {}) }).toString();
    return html`<h1>Ledger</h1>
<p>Every approval, revocation and every summary sent is written here, each row chained to the one before, so a change to any row shows.</p>
${
  verify
    ? verify.ok
      ? html`<div class="banner ok" role="status" id="verify-result"><p><strong>Chain verified:</strong> all ${verify.rows} rows are intact.</p></div>`
      : html`<div class="banner bad" role="alert" id="verify-result"><p><strong>Chain broken</strong> at row ${verify.problem?.seq ?? '?'}: ${verify.problem?.message ?? ''}</p></div>`
    : ''
}
<div class="actions"><form method="post" action="/ledger/verify" class="inline" hx-post="/ledger/verify" hx-target="#main" hx-select="#main" hx-swap="outerHTML">${csrfField(r.session(req).csrf)}<button type="submit">Verify chain</button></form></div>
<form method="get" action="/ledger" class="card"><label for="f-vendor">Vendor</label><input id="f-vendor" name="vendor" value="${vendor ?? ''}">
<label for="f-kind">Kind</label><select id="f-kind" name="kind"><option value="">All kinds</option>${[...Object.keys(KIND_GROUPS), ...Object.keys(KIND_TEXT)].map((k) => html`<option value="${k}"${k === kind ? html` selected` : ''}>${KIND_GROUPS[k] ?? KIND_TEXT[k]}</option>`)}</select>
<div class="actions"><button type="submit" class="secondary">Filter</button> <a href="/ledger.csv?${qs}">Export CSV</a> <a href="/ledger.json?${qs}">Export JSON</a></div></form>
${
  rows.length === 0
    ? html`<p>No ledger rows${vendor || kind ? ' match the filter' : ' yet'}.</p>`
    : html`<div class="table-wrap"><table class="stack"><thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">What</th><th scope="col">Vendor</th><th scope="col">Policy</th><th scope="col">Details</th></tr></thead><tbody>
${[...rows].reverse().map(
  (row) => html`<tr><td data-label="#">${row.seq}</td><td data-label="When"><time datetime="${row.at}">${when(row.at, r.timezone, true)}</time></td><td data-label="What">${KIND_TEXT[row.kind] ?? row.kind}</td><td data-label="Vendor">${row.vendor ?? ''}</td><td data-label="Policy">${row.policy ?? ''}</td><td data-label="Details">${detailText(row, bytesOf)}</td></tr>`,
)}</tbody></table></div>`
}`;
  };

  r.app.get('/ledger', async (req, reply) => r.page(reply, req, 'Ledger', 'ledger', await draw(req, null)));
  r.app.post('/ledger/verify', async (req, reply) => r.page(reply, req, 'Ledger', 'ledger', await draw(req, await r.call('ledger.verify'))));

  r.app.get('/ledger.json', async (req, reply) => {
    const { rows } = await filtered(r, req.query);
    return reply.header('Content-Disposition', 'attachment; filename="sluice-ledger.json"').type('application/json').send(JSON.stringify(rows, null, 2));
  });
  r.app.get('/ledger.csv', async (req, reply) => {
    const { rows } = await filtered(r, req.query);
    const cell = (v: unknown) => {
      const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      // Leading = + - @ would be formulas in a spreadsheet.
      const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
      return /[",\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
    };
    const lines = ['seq,at,kind,vendor,policy,version,summary_id,detail,hash', ...rows.map((x) => [x.seq, x.at, x.kind, x.vendor, x.policy, x.version, x.summary_id, x.detail, x.hash].map(cell).join(','))];
    return reply.header('Content-Disposition', 'attachment; filename="sluice-ledger.csv"').type('text/csv; charset=utf-8').send(`${lines.join('\n')}\n`);
  });
}
