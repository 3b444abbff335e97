import { z } from 'zod';
import type { ResultOf } from '../app/index.js';
import { categoryText, csrfField, html, when } from './html.js';
import { parseInput, type WebRoutes } from './routes.js';

type IntentRow = ResultOf<'intents.list'>[number];
type OfferRow = ResultOf<'offers.list'>[number];

/** Who the ledger names for a decision made on the dashboard (sessions carry no member name). */
const BY = 'dashboard';

const idParam = z.object({ id: z.coerce.number({ error: 'id must be a number' }).int().positive({ error: 'id must be a number from the list' }) });
const blank = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
/** An optional number field of a form: empty is "not given". */
const numberField = (what: string, check: (n: number) => boolean, rule: string) =>
  z
    .string()
    .max(20)
    .optional()
    .transform((v, c) => {
      const t = blank(v);
      if (t === undefined) return undefined;
      const n = Number(t);
      if (!Number.isFinite(n) || !check(n)) {
        c.addIssue({ code: 'custom', message: `${what} must be ${rule}; got "${t}"` });
        return z.NEVER;
      }
      return n;
    });
const approveForm = z.object({
  quantity: numberField('quantity', (n) => Number.isInteger(n) && n > 0 && n <= 1000, 'a whole number from 1 to 1000'),
  need_by: z.string().max(10).optional().transform(blank),
  budget: numberField('budget', (n) => n > 0, 'a number above 0'),
});

const STATE_TEXT: Record<IntentRow['state'], string> = {
  draft: 'Draft: waiting for you',
  dropped: 'Dropped',
  open: 'Sent: collecting offers',
  accepted: 'Offer accepted',
  closed: 'Closed',
};

const money = (p: { amount: number; currency: string } | null) => (p ? `${p.amount.toFixed(2)} ${p.currency}` : 'none');

/** Intents the household's devices drafted (approve with edits, drop) and the inbox of offers (accept, decline). */
export function registerIntentPages(r: WebRoutes): void {
  const at = (iso: string | null | undefined) => when(iso, r.timezone);
  const what = (id: string) => html`${categoryText(id)} <span class="muted">(<code>${id}</code>)</span>`;
  r.app.get('/intents', async (req, reply) => {
    const [intents, offers] = await Promise.all([r.call('intents.list', {}), r.call('offers.list', {})]);
    const { csrf } = r.session(req);
    const drafts = intents.filter((i) => i.state === 'draft');
    const others = intents.filter((i) => i.state !== 'draft');
    const waiting = offers.filter((o) => o.state === 'received').length;
    const draftCard = (i: IntentRow) => html`<li class="card"><h3>${categoryText(i.what)}</h3>
<p>Drafted ${at(i.created_at)} by the rule ${i.rule} (<code>${i.what}</code>). It would go to: ${i.vendors.join(', ') || 'no vendor'}.</p>
<form method="post" action="/intents/${i.id}/approve">${csrfField(csrf)}
<div class="fields">
<p><label for="quantity-${i.id}">How many</label><input id="quantity-${i.id}" name="quantity" inputmode="numeric" pattern="[0-9]+" value="${i.quantity}" size="5"></p>
<p><label for="need-by-${i.id}">Needed by (YYYY-MM-DD)</label><input id="need-by-${i.id}" name="need_by" pattern="\\d{4}-\\d{2}-\\d{2}" value="${i.need_by}" size="12"></p>
<p><label for="budget-${i.id}">Most you would pay${i.budget ? ` (${i.budget.currency})` : ''}; empty: keep as drafted</label><input id="budget-${i.id}" name="budget" inputmode="decimal" value="${i.budget ? String(i.budget.max) : ''}" size="8"></p>
</div>
<div class="actions"><button type="submit">Approve</button><button type="submit" class="secondary" formaction="/intents/${i.id}/drop" formnovalidate>Drop</button></div></form>
<p><a href="/intents/${i.id}">Details of intent ${i.id}</a></p></li>`;
    const body = html`<h1>Intents</h1>
<p>When a device needs something (a water filter, coffee pods, a battery), Sluice drafts a request for offers here. Nothing leaves the house until you approve it; then it goes only to the vendors named, with your country and at most the start of your postal code, signed with a key used for this request only. Vendors answer in <a href="/offers">Offers</a>.</p>
${waiting > 0 ? html`<div class="banner" role="status"><p><strong>${waiting} offer${waiting === 1 ? '' : 's'} waiting</strong> for your answer. <a href="/offers">See the offers</a></p></div>` : ''}
<section aria-labelledby="drafts"><h2 id="drafts">Drafts waiting for you</h2>
${drafts.length === 0 ? html`<p>No drafts. When a device's rule fires, its draft appears here.</p>` : html`<ul class="plain">${drafts.map(draftCard)}</ul>`}
</section>
<section aria-labelledby="earlier"><h2 id="earlier">Sent and earlier intents</h2>
${
  others.length === 0
    ? html`<p>None yet.</p>`
    : html`<div class="table-wrap"><table class="stack"><thead><tr><th scope="col">Intent</th><th scope="col">What</th><th scope="col">State</th><th scope="col">Sent to</th><th scope="col">Offers</th><th scope="col">Offers until</th></tr></thead><tbody>
${others.map((i) => html`<tr><td data-label="Intent"><a href="/intents/${i.id}">${i.id}</a></td><td data-label="What">${what(i.what)}</td><td data-label="State">${STATE_TEXT[i.state]}</td><td data-label="Sent to">${i.vendors.join(', ')}</td><td data-label="Offers">${i.offers}</td><td data-label="Offers until">${at(i.offers_until)}</td></tr>`)}
</tbody></table></div>`
}</section>`;
    return r.page(reply, req, 'Intents', 'intents', body);
  });

  r.app.get('/intents/:id', async (req, reply) => {
    const { id } = parseInput(idParam, req.params);
    const [i, offers] = await Promise.all([r.call('intents.show', { id }), r.call('offers.list', { intent: id })]);
    const body = html`<h1>Intent ${i.id}: ${categoryText(i.what)}</h1>
<p class="muted"><code>${i.what}</code></p>
<dl>
<dt>State</dt><dd>${STATE_TEXT[i.state]}${i.decided_by ? ` (decided by ${i.decided_by})` : ''}</dd>
<dt>How many</dt><dd>${i.quantity}</dd>
<dt>Needed by</dt><dd>${i.need_by}</dd>
<dt>Most you would pay</dt><dd>${i.budget ? money({ amount: i.budget.max, currency: i.budget.currency }) : 'no limit'}</dd>
<dt>Vendors</dt><dd>${i.vendors.join(', ')}</dd>
<dt>Why it was drafted</dt><dd>${i.rule}: ${i.reading.metric} of ${i.device_id} (this stays home)</dd>
<dt>Offers until</dt><dd>${at(i.offers_until)}</dd>
${i.closed_at ? html`<dt>Closed</dt><dd>${at(i.closed_at)}${i.close_reason ? ` (${i.close_reason})` : ''}</dd>` : ''}
</dl>
${i.deliveries.length > 0 ? html`<section aria-labelledby="where"><h2 id="where">Where it went</h2><ul>${i.deliveries.map((d) => html`<li>${d.vendor}: ${d.sent_at ? `sent ${at(d.sent_at)}` : d.last_error ? `not sent yet (${d.last_error})` : 'not sent yet'}</li>`)}</ul></section>` : ''}
${i.document ? html`<section aria-labelledby="doc"><h2 id="doc">Exactly what the vendors received</h2><pre>${JSON.stringify(i.document, null, 2)}</pre></section>` : html`<p>Nothing of it has left the house.</p>`}
<p>${offers.length} offer${offers.length === 1 ? '' : 's'} for it. <a href="/offers">See the offers</a> · <a href="/intents">Back to Intents</a></p>`;
    return r.page(reply, req, `Intent ${i.id}`, 'intents', body);
  });

  r.app.post('/intents/:id/approve', async (req, reply) => {
    const { id } = parseInput(idParam, req.params);
    const f = parseInput(approveForm, req.body);
    const i = await r.call('intents.approve', { id, by: BY, quantity: f.quantity, need_by: f.need_by, budget: f.budget });
    return r.page(
      reply,
      req,
      `Approved intent ${id}`,
      'intents',
      html`<h1>Approved intent ${id}</h1><div class="banner ok" role="status"><p>${categoryText(i.what)} (${i.quantity}, needed by ${i.need_by}) goes to ${i.vendors.join(', ')}. Offers arrive in Offers until ${i.offers_until ? at(i.offers_until) : 'the deadline'}; every step is on the ledger.</p></div><p><a href="/offers">See the offers</a> · <a href="/intents">Back to Intents</a></p>`,
    );
  });

  r.app.post('/intents/:id/drop', async (req, reply) => {
    const { id } = parseInput(idParam, req.params);
    const i = await r.call('intents.drop', { id, by: BY });
    return r.page(reply, req, `Dropped intent ${id}`, 'intents', html`<h1>Dropped intent ${id}</h1><div class="banner ok" role="status"><p>${categoryText(i.what)}: nothing was sent, and nothing will be.</p></div><p><a href="/intents">Back to Intents</a></p>`);
  });

  r.app.get('/offers', async (req, reply) => {
    const [offers, intents] = await Promise.all([r.call('offers.list', {}), r.call('intents.list', {})]);
    const { csrf } = r.session(req);
    const whatOf = new Map(intents.map((i) => [i.id, i.what]));
    const waiting = offers.filter((o) => o.state === 'received');
    const decided = offers.filter((o) => o.state !== 'received');
    const offerCard = (o: OfferRow) => html`<li class="card"><h3>${o.vendor}: ${money(o.price)}</h3>
<dl>
<dt>For</dt><dd><a href="/intents/${o.intent}">intent ${o.intent}</a>: ${categoryText(whatOf.get(o.intent) ?? 'unknown')}</dd>
<dt>Delivery by</dt><dd>${at(o.delivery_by)}</dd>
<dt>Valid until</dt><dd>${at(o.valid_until)}</dd>
<dt>Received</dt><dd>${at(o.received_at)}</dd>
<dt>Your terms</dt><dd>${o.terms_accepted ? 'accepted by the vendor' : 'NOT accepted by the vendor'}</dd>
</dl>
<p class="muted">Accepting sends this vendor, and no other, the delivery details set for the household. Every other offer for the intent stays unanswered.</p>
<div class="actions"><form method="post" action="/offers/${o.id}/accept" class="inline">${csrfField(csrf)}<button type="submit">Accept</button></form>
<form method="post" action="/offers/${o.id}/decline" class="inline">${csrfField(csrf)}<button type="submit" class="secondary">Decline</button></form></div></li>`;
    const body = html`<h1>Offers</h1>
<p>Vendors answer your approved <a href="/intents">intents</a> here. Sluice fetches their offers itself (vendors never connect in) and checks each signature. Nothing a vendor sends reaches your devices.</p>
<section aria-labelledby="inbox"><h2 id="inbox">Waiting for your answer</h2>
${waiting.length === 0 ? html`<p>No offers waiting.</p>` : html`<ul class="plain">${waiting.map(offerCard)}</ul>`}</section>
<section aria-labelledby="answered"><h2 id="answered">Answered</h2>
${
  decided.length === 0
    ? html`<p>None yet.</p>`
    : html`<div class="table-wrap"><table class="stack"><thead><tr><th scope="col">Vendor</th><th scope="col">For</th><th scope="col">Price</th><th scope="col">Your answer</th></tr></thead><tbody>
${decided.map((o) => html`<tr><td data-label="Vendor">${o.vendor}</td><td data-label="For">${categoryText(whatOf.get(o.intent) ?? `intent ${o.intent}`)}</td><td data-label="Price">${money(o.price)}</td><td data-label="Your answer">${o.state === 'accepted' ? `Accepted${o.acceptance_sent ? ', vendor told' : ', telling the vendor'}` : 'Declined'}</td></tr>`)}
</tbody></table></div>`
}</section>`;
    return r.page(reply, req, 'Offers', 'offers', body);
  });

  r.app.post('/offers/:id/accept', async (req, reply) => {
    const { id } = parseInput(idParam, req.params);
    const o = await r.call('offers.accept', { id, by: BY });
    return r.page(
      reply,
      req,
      `Accepted the offer of ${o.vendor}`,
      'offers',
      html`<h1>Accepted the offer of ${o.vendor}</h1><div class="banner ok" role="status"><p>${money(o.price)}, delivery by ${at(o.delivery_by)}. Only ${o.vendor} is told, with the household's delivery details; the ledger records what was sent.</p></div><p><a href="/offers">Back to Offers</a></p>`,
    );
  });

  r.app.post('/offers/:id/decline', async (req, reply) => {
    const { id } = parseInput(idParam, req.params);
    const o = await r.call('offers.decline', { id, by: BY });
    return r.page(reply, req, `Declined the offer of ${o.vendor}`, 'offers', html`<h1>Declined the offer of ${o.vendor}</h1><div class="banner ok" role="status"><p>Nothing was sent to ${o.vendor}.</p></div><p><a href="/offers">Back to Offers</a></p>`);
  });
}
