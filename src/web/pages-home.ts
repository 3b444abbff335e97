import { bytesText, html } from './html.js';
import type { WebRoutes } from './routes.js';

/** Home: what stays home and what left the house. */
export function registerHomePage(r: WebRoutes): void {
  r.app.get('/', async (req, reply) => {
    const [status, devices, info, vendors, policies, quarantine, presence, verify] = await Promise.all([
      r.call('status'),
      r.call('devices.list'),
      r.call('db.info'),
      r.call('sharing.vendors', {}),
      r.call('policy.list'),
      r.call('quarantine', {}),
      r.call('devices.presence'),
      r.call('ledger.verify').catch((err: Error) => ({ ok: false, rows: 0, problem: { seq: null, message: err.message } })),
    ]);
    const online = Object.values(presence).filter((p) => p === 'online').length;
    const offline = Object.values(presence).filter((p) => p === 'offline').length;
    const awaiting = policies.filter((p) => p.state === 'unapproved' || p.state === 'changed');
    const failing = vendors.filter((v) => v.failed > 0);
    const banners = [
      ...awaiting.map((p) => html`<div class="banner" role="status"><p><strong>Waiting for your approval:</strong> ${p.name} (${p.vendor ?? 'unknown vendor'}) — ${p.state_text}. <a href="/sharing/${encodeURIComponent(p.name)}">Review ${p.name}</a></p></div>`),
      // [PRIV-DP-3] the household is told when a privacy budget stops what it approved.
      ...policies.filter((p) => p.withheld !== null).map((p) => html`<div class="banner" role="status"><p><strong>Withheld: budget.</strong> ${p.name} (${p.vendor ?? 'unknown vendor'}) sent nothing for ${p.withheld!.window.start}: the ${p.withheld!.limit === 'vendor' ? 'vendor' : 'household'} privacy budget is spent (${p.withheld!.spent} of ${p.withheld!.cap} ε)${p.withheld!.next_renewal ? `; releases fit again from ${p.withheld!.next_renewal}` : ''}. <a href="/sharing/${encodeURIComponent(p.name)}">See ${p.name}</a></p></div>`),
      ...failing.map((v) => html`<div class="banner bad" role="status"><p><strong>Delivery failing:</strong> ${v.failed} summar${v.failed === 1 ? 'y' : 'ies'} to ${v.vendor} could not be delivered. <a href="/ledger?vendor=${encodeURIComponent(v.vendor)}">See what was sent</a></p></div>`),
      status.store !== 'ok' ? html`<div class="banner bad" role="alert"><p><strong>Store fault:</strong> ${status.store_fault ?? status.store}</p></div>` : '',
      quarantine.length > 0 ? html`<div class="banner" role="status"><p><strong>Quarantine:</strong> ${quarantine.length} message(s) could not be read. <a href="/quarantine">See the quarantine</a></p></div>` : '',
    ];
    const body = html`<h1>Home</h1>
${banners}
<section aria-labelledby="home-stays"><h2 id="home-stays">Stays home</h2>
<dl>
<dt>Devices</dt><dd>${devices.length} registered: ${online} online, ${offline} offline, ${devices.length - online - offline} not reporting a status</dd>
<dt>Readings stored</dt><dd>${info.readings} (${bytesText(info.bytes)} on disk)</dd>
<dt>Raw readings kept</dt><dd>${info.retention.raw_days} days, then only hourly rollups (kept ${info.retention.rollup_days} days)</dd>
</dl>
<p><a href="/devices">Show every device</a></p></section>
<section aria-labelledby="home-left"><h2 id="home-left">Left the house (last 30 days)</h2>
${
  vendors.length === 0
    ? html`<p>Nothing. No sharing policy exists, so nothing leaves.</p>`
    : html`<div class="table-wrap"><table class="stack"><caption class="muted">Per vendor</caption><thead><tr><th scope="col">Vendor</th><th scope="col">Sharing</th><th scope="col">Summaries sent</th><th scope="col">Bytes</th><th scope="col">Last send</th><th scope="col">Next send</th></tr></thead><tbody>
${vendors.map((v) => html`<tr><td data-label="Vendor">${v.vendor}</td><td data-label="Sharing">${v.in_force ? 'On' : 'Off'}</td><td data-label="Summaries sent">${v.summaries_sent}</td><td data-label="Bytes">${bytesText(v.bytes_sent)}</td><td data-label="Last send">${v.last_sent ?? 'never'}</td><td data-label="Next send">${v.next_send ?? '—'}</td></tr>`)}
</tbody></table></div>`
}
<p>Ledger: ${verify.ok ? `verified, ${verify.rows} rows intact` : `NOT verified: ${verify.problem?.message ?? 'broken'}`}</p>
<p><a href="/sharing">See what is shared and why</a> · <a href="/ledger">See every send and approval</a></p></section>`;
    return r.page(reply, req, 'Home', 'home', body);
  });
}
