import { z } from 'zod';
import type { ResultOf } from '../app/index.js';
import { SluiceError, isSluiceError } from '../core/index.js';
import { TERMS } from '../terms/index.js';
import { csrfField, html, when, type SafeHtml } from './html.js';
import { parseInput, type WebRoutes } from './routes.js';

type TermsRow = ResultOf<'terms.list'>[number];

const vendorParam = z.object({ vendor: z.string().min(1).max(128) });

/** The state of an exchange in the household's words, not the store's. */
const STATE_TEXT: Record<TermsRow['state'], string> = {
  proffered: 'Proffered: waiting for the vendor',
  accepting: 'You accepted the counter-offer: waiting for the vendor',
  countered: 'Counter-offer waiting for you',
  accepted: 'Accepted',
  declined: 'Declined by the vendor',
  refused: 'Counter-offer declined by you',
  failed: 'Failed: the proffer could not be delivered',
  superseded: 'Replaced by a newer proffer',
};

/** After these the household may ask again; in the others the vendor or the household still has a move. */
const CAN_PROFFER_AGAIN = new Set<TermsRow['state']>(['declined', 'refused', 'failed']);

/** What a roster term allows, in plain words. */
function termText(id: string | null): SafeHtml {
  if (!id) return html`—`;
  const title = Object.hasOwn(TERMS, id) ? TERMS[id as keyof typeof TERMS].title : null;
  return title ? html`${title} <span class="muted">(<code>${id}</code>)</span>` : html`<code>${id}</code>`;
}

const short = (sha: string | null) => (sha ? html`<code title="${sha}">${sha.slice(0, 12)}…</code>` : html`—`);

/** Terms: the IEEE 7012 term the household proffers each vendor, the vendor's answer, and the household's choice on a counter-offer. */
export function registerTermsPages(r: WebRoutes): void {
  const at = (iso: string | null | undefined) => when(iso, r.timezone);
  const vendorHref = (name: string) => `/terms/${encodeURIComponent(name)}`;

  r.app.get('/terms', async (req, reply) => {
    const rows = await r.call('terms.list');
    const waiting = rows.filter((t) => t.state === 'countered');
    const body = html`<h1>Terms</h1>
<p>Before anything is sent to a vendor, Sluice proffers the household's own terms (IEEE 7012): what the vendor may do with what it receives. Nothing is produced for or sent to a vendor until it accepts. A vendor may ask for more in a counter-offer; only you can take it.</p>
${waiting.length > 0 ? html`<div class="banner" role="status"><p><strong>${waiting.length === 1 ? 'A counter-offer is' : `${waiting.length} counter-offers are`} waiting for you:</strong> ${waiting.map((t, i) => html`${i > 0 ? ', ' : ''}<a href="${vendorHref(t.vendor)}">${t.vendor}</a>`)}</p></div>` : ''}
${
  rows.length === 0
    ? html`<p>No terms yet. They are proffered once a sharing policy for a vendor is approved and the gateway runs.</p>`
    : html`<div class="table-wrap"><table class="stack"><thead><tr><th scope="col">Vendor</th><th scope="col">Term proffered</th><th scope="col">State</th><th scope="col">Agreed term</th><th scope="col">Agreement</th><th scope="col">When</th></tr></thead><tbody>
${rows.map(
  (t) =>
    html`<tr><td data-label="Vendor"><a href="${vendorHref(t.vendor)}">${t.vendor}</a></td><td data-label="Term proffered"><code>${t.term}</code></td><td data-label="State">${t.state === 'countered' ? html`<strong>${STATE_TEXT[t.state]}</strong>` : STATE_TEXT[t.state]}</td><td data-label="Agreed term">${t.agreed_term ? html`<code>${t.agreed_term}</code>` : '—'}</td><td data-label="Agreement">${short(t.agreement_sha256)}</td><td data-label="When">${at(t.updated_at)}</td></tr>`,
)}
</tbody></table></div>`
}`;
    return r.page(reply, req, 'Terms', 'terms', body);
  });

  r.app.get('/terms/:vendor', async (req, reply) => {
    const { vendor } = parseInput(vendorParam, req.params);
    const t = await r.call('terms.show', { vendor });
    const { csrf, member } = r.session(req);
    const action = (what: string) => `${vendorHref(t.vendor)}/${what}`;
    const body = html`<h1>Terms with ${t.vendor}</h1>
<p>State: <strong>${STATE_TEXT[t.state]}</strong>${t.in_force ? ' · summaries may go to this vendor' : ' · nothing is sent to this vendor'}</p>
<dl>
<dt>Policy</dt><dd><a href="/sharing/${encodeURIComponent(t.policy)}">${t.policy}</a></dd>
<dt>The term you proffered</dt><dd>${termText(t.term)}</dd>
${t.agreed_term ? html`<dt>The term agreed</dt><dd>${termText(t.agreed_term)}</dd>` : ''}
${t.agreement_sha256 ? html`<dt>Agreement</dt><dd><code class="hash">${t.agreement_sha256}</code><br><span class="muted">Every summary sent to ${t.vendor} carries this hash.</span></dd>` : ''}
${t.decided_by ? html`<dt>Decided by</dt><dd>${t.decided_by}</dd>` : ''}
${t.last_error ? html`<dt>Last problem</dt><dd>${t.last_error}</dd>` : ''}
<dt>Attempts</dt><dd>${t.attempts}</dd>
<dt>Last change</dt><dd>${at(t.updated_at)}</dd>
</dl>
${
  t.counter && t.state === 'countered'
    ? html`<section aria-labelledby="counter"><h2 id="counter">${t.vendor}'s counter-offer</h2>
<div class="banner" role="status"><p>${t.vendor} will not take ${t.term}. It asks for: <strong>${termText(t.counter.term)}</strong></p>${t.counter.reason ? html`<p>Its reason: ${t.counter.reason}</p>` : ''}</div>
<p class="muted">Accepting sends ${t.vendor} the household's signed acceptance; sharing starts once ${t.vendor} confirms it. Declining sends nothing, and nothing is shared with ${t.vendor}.${member ? ` You decide as ${member}.` : ''}</p>
<div class="actions"><form method="post" action="${action('accept')}" class="inline">${csrfField(csrf)}<button type="submit">Accept counter-offer</button></form>
<form method="post" action="${action('decline')}" class="inline">${csrfField(csrf)}<button type="submit" class="danger">Decline</button></form></div></section>`
    : ''
}
${
  CAN_PROFFER_AGAIN.has(t.state)
    ? html`<section aria-labelledby="again"><h2 id="again">Ask again</h2><p>Proffer ${t.term} to ${t.vendor} once more.</p>
<form method="post" action="${action('proffer')}">${csrfField(csrf)}<div class="actions"><button type="submit">Proffer again</button></div></form></section>`
    : ''
}
${
  t.history.length > 1
    ? html`<section aria-labelledby="rounds"><h2 id="rounds">Earlier rounds</h2><div class="table-wrap"><table class="stack"><thead><tr><th scope="col">Term</th><th scope="col">State</th><th scope="col">Agreed</th><th scope="col">Started</th></tr></thead><tbody>
${t.history.map((h) => html`<tr><td data-label="Term"><code>${h.term}</code></td><td data-label="State">${STATE_TEXT[h.state]}</td><td data-label="Agreed">${h.agreed_term ? html`<code>${h.agreed_term}</code>` : '—'}</td><td data-label="Started">${at(h.created_at)}</td></tr>`)}
</tbody></table></div></section>`
    : ''
}
<p><a href="/terms">Back to Terms</a></p>`;
    return r.page(reply, req, `Terms with ${t.vendor}`, 'terms', body);
  });

  const done = (reply: Parameters<WebRoutes['page']>[0], req: Parameters<WebRoutes['page']>[1], t: TermsRow, heading: string, text: string) =>
    r.page(reply, req, heading, 'terms', html`<h1>${heading}</h1><div class="banner ok" role="status"><p>${text} Now: ${STATE_TEXT[t.state]}.</p></div><p><a href="${vendorHref(t.vendor)}">Back to the terms with ${t.vendor}</a> · <a href="/ledger">See the ledger</a></p>`);

  // A member's own login decides as that member; an owner or adult is required once the household has members.
  const asMember = <T>(req: Parameters<WebRoutes['session']>[0], run: (as: string | undefined) => Promise<T>): Promise<T> =>
    run(r.session(req).member ?? undefined).catch((err: unknown) => {
      // The same refusal, in the dashboard's words rather than the CLI flag's.
      if (isSluiceError(err, 'SLUICE_ERR_MEMBER_NOT_ALLOWED'))
        throw new SluiceError('SLUICE_ERR_MEMBER_NOT_ALLOWED', `an owner or adult of the household decides on a vendor's counter-offer; ${r.session(req).member ? `${r.session(req).member} may not` : 'the household login may not'}. Log in as an owner or adult with \`sluice web login --as NAME\`. Nothing was decided.`, err.details);
      throw err;
    });
  r.app.post('/terms/:vendor/accept', async (req, reply) => {
    const { vendor } = parseInput(vendorParam, req.params);
    const t = await asMember(req, (as) => r.call('terms.accept', { vendor, as }));
    return done(reply, req, t, `Accepted the counter-offer of ${t.vendor}`, `The household's signed acceptance of ${t.counter?.term ?? t.agreed_term ?? 'the counter-offer'} went to ${t.vendor}; sharing starts once ${t.vendor} confirms it.`);
  });

  r.app.post('/terms/:vendor/decline', async (req, reply) => {
    const { vendor } = parseInput(vendorParam, req.params);
    const t = await asMember(req, (as) => r.call('terms.decline', { vendor, as }));
    return done(reply, req, t, `Declined the counter-offer of ${t.vendor}`, `Nothing is sent to ${t.vendor}.`);
  });

  r.app.post('/terms/:vendor/proffer', async (req, reply) => {
    const { vendor } = parseInput(vendorParam, req.params);
    const t = await asMember(req, (as) => r.call('terms.proffer', { vendor, as }));
    return done(reply, req, t, `Proffered ${t.term} to ${t.vendor} again`, `The household's terms went to ${t.vendor} again.`);
  });
}
