import { z } from 'zod';
import type { BudgetAlert } from '../app/index.js';
import { SluiceError, isSluiceError } from '../core/index.js';
import { csrfField, html, when, type SafeHtml } from './html.js';
import { parseInput, type WebRoutes } from './routes.js';

/** The explain text without its closing risk paragraph, which the page shows as a section of its own. */
function withoutRisk(text: string): string {
  const at = text.lastIndexOf('\n\nRisk: ');
  return at === -1 ? text : text.slice(0, at);
}

/** A banner per privacy budget the household should hear about (Home and Sharing pages). */
export function budgetBanners(alerts: BudgetAlert[]): SafeHtml[] {
  return alerts.map((a) => {
    const whose = a.budget === 'household' ? 'the household budget across every vendor' : `the privacy budget for ${a.vendor}`;
    const back = a.next_renewal ? ` Budget comes back from ${a.next_renewal}.` : '';
    return a.kind === 'withheld'
      ? html`<div class="banner bad" role="status"><p><strong>Privacy budget spent:</strong> ${a.withheld === 1 ? 'a release' : `${a.withheld} releases`} of ${a.policy} ${a.withheld === 1 ? 'was' : 'were'} withheld in the last 30 days (latest ${a.last_withheld}), because sending ${a.withheld === 1 ? 'it' : 'them'} would exceed ${whose} (${a.left} of ε ${a.cap} left). Nothing was sent.${back} <a href="/sharing/${encodeURIComponent(a.policy)}">Review ${a.policy}</a></p></div>`
      : html`<div class="banner" role="status"><p><strong>Privacy budget nearly spent:</strong> ${a.policy} has ${a.left} of ε ${a.cap} left in ${whose}; when it runs out, releases are withheld.${back} <a href="/sharing/${encodeURIComponent(a.policy)}">Review ${a.policy}</a></p></div>`;
  });
}

/** A policy's state, with "terms not accepted by VENDOR" linked to that vendor's terms page. */
export function stateWithTermsLink(text: string): SafeHtml {
  const m = /^(.*terms not accepted by )(.+)$/.exec(text);
  return m ? html`${m[1]}<a href="/terms/${encodeURIComponent(m[2]!)}">${m[2]}</a>` : html`${text}`;
}

const nameParam = z.object({ name: z.string().min(1).max(64) });

/** Sharing: each policy in plain language, approve (with its version hash), preview, run, revoke. */
export function registerSharingPages(r: WebRoutes): void {
  r.app.get('/sharing', async (req, reply) => {
    const [policies, alerts] = await Promise.all([r.call('policy.list'), r.call('sharing.budget_alerts')]);
    const body = html`<h1>Sharing</h1>
${budgetBanners(alerts)}
<p>Nothing leaves the house unless you approve a policy here. Each policy names one vendor, what it receives and how often.</p>
${
  policies.length === 0
    ? html`<p>There are no sharing policies.</p>`
    : html`<ul>${policies.map((p) => html`<li class="card"><h2><a href="/sharing/${encodeURIComponent(p.name)}">${p.name}</a></h2><p>Vendor: ${p.vendor ?? 'unknown'} · State: <strong>${stateWithTermsLink(p.state_text)}</strong>${p.next_run ? ` · next send ${p.next_run}` : ''}</p></li>`)}</ul>`
}`;
    return r.page(reply, req, 'Sharing', 'sharing', body);
  });

  r.app.get('/sharing/:name', async (req, reply) => {
    const { name } = parseInput(nameParam, req.params);
    const explain = await r.call('policy.explain', { name });
    const [list, summaries, alerts] = await Promise.all([r.call('policy.list'), r.call('policy.summaries', { name }), r.call('sharing.budget_alerts')]);
    const row = list.find((p) => p.name === name);
    let preview: Awaited<ReturnType<typeof r.call<'policy.preview'>>> | null = null;
    let previewProblem: string | null = null;
    try {
      preview = await r.call('policy.preview', { name });
    } catch (err) {
      previewProblem = (err as Error).message;
    }
    const { csrf } = r.session(req);
    const enc = encodeURIComponent(name);
    const canApprove = explain.version !== null && explain.problems === null && (explain.state !== 'approved' || explain.version !== explain.approved_version || (row?.waiting_for.length ?? 0) > 0);
    const member = r.session(req).member;
    const risk = explain.risk;
    const high = risk?.level === 'high';
    const body = html`<h1>Policy ${name}</h1>
${budgetBanners(alerts.filter((a) => a.policy === name))}
<p>State: <strong>${explain.state_text}</strong>${row?.vendor ? html` · Vendor: ${row.vendor}` : ''}${risk ? html` · Risk: <strong>${risk.level}</strong>` : ''}</p>
${row?.state_text.includes('terms not accepted by') ? html`<div class="banner" role="status"><p>Nothing is sent yet: <strong>${stateWithTermsLink(row.state_text)}</strong>.</p></div>` : ''}
${explain.problems ? html`<div class="banner bad" role="alert"><p>This policy has problems and cannot be approved:</p><pre>${explain.problems}</pre></div>` : ''}
<section aria-labelledby="plain"><h2 id="plain">In plain language</h2><pre>${risk ? withoutRisk(explain.text) : explain.text}</pre></section>
${
  risk
    ? html`<section aria-labelledby="risk"><h2 id="risk">Risk: ${risk.level} (${risk.points} points)</h2>
${high ? html`<div class="banner bad" role="alert"><p><strong>High risk.</strong> What this policy sends could tell ${risk.vendor} a lot about your household. Approving it needs you to accept that risk explicitly.</p></div>` : ''}
${
  risk.reasons.filter((x) => x.points !== 0).length > 0
    ? html`<p>Why:</p><ul class="reasons">${risk.reasons.filter((x) => x.points !== 0).map((x) => html`<li>${x.text} <span class="muted">(${x.points > 0 ? '+' : ''}${x.points}; source: ${x.source})</span></li>`)}</ul>`
    : html`<p>No reason for concern fired.</p>`
}
<p class="muted">${risk.note}</p></section>`
    : ''
}
${explain.changes.length > 0 ? html`<section aria-labelledby="changes"><h2 id="changes">What changed since approval</h2><ul>${explain.changes.map((c) => html`<li>${c}</li>`)}</ul></section>` : ''}
<section aria-labelledby="decide"><h2 id="decide">Your decision</h2><div class="actions">
${
  canApprove
    ? html`<form method="post" action="/sharing/${enc}/approve" class="inline">${csrfField(csrf)}<input type="hidden" name="version" value="${explain.version ?? ''}">${
        high ? html`<p class="check"><input type="checkbox" id="accept-risk" name="accept_risk" value="high" required><label for="accept-risk">I accept the high risk</label></p>` : ''
      }<button type="submit">Approve</button></form>`
    : ''
}
${member ? html`<form method="post" action="/sharing/${enc}/veto" class="inline">${csrfField(csrf)}<button type="submit" class="danger">Veto as ${member}</button></form>` : ''}
${row?.in_force ? html`<form method="post" action="/sharing/${enc}/run" class="inline">${csrfField(csrf)}<button type="submit" class="secondary">Run now (send the latest summary)</button></form><form method="get" action="/sharing/${enc}/revoke" class="inline"><button type="submit" class="danger">Revoke</button></form>` : ''}
</div></section>
<section aria-labelledby="preview"><h2 id="preview">Exactly what the next send would contain</h2>
${
  preview
    ? html`<p>Window ${preview.window.start} to ${preview.window.end} (${preview.basis === 'approved' ? 'the approved version' : 'the version awaiting approval'}).</p>
${preview.omitted.length > 0 ? html`<p>Left out for too few readings: ${preview.omitted.map((o) => `${o.metric} (${o.samples} of ${o.min_samples})`).join(', ')}</p>` : ''}
${preview.body === null ? html`<p>Nothing would be sent for this window: ${preview.message}</p>` : html`<pre>${JSON.stringify(JSON.parse(preview.body), null, 2)}</pre>`}`
    : html`<p>No preview: ${previewProblem}</p>`
}</section>
${
  explain.version !== null && explain.problems === null
    ? html`<section aria-labelledby="overlay"><h2 id="overlay">What stays home and what the vendor receives</h2>
<p>The solid line is every reading, which stays home; the dashed line is the one value per window the vendor gets, for the last 7 windows.</p>
<div class="chart" data-chart="/api/sharing/${enc}/overlay" role="img" aria-label="Chart: raw readings that stay home against the summary the vendor receives"><div class="plot"></div><p class="chart-status muted">Loading chart…</p></div></section>`
    : ''
}
<section aria-labelledby="sent"><h2 id="sent">Summaries under this policy</h2>
${
  summaries.length === 0
    ? html`<p>None yet.</p>`
    : html`<div class="table-wrap"><table class="stack"><thead><tr><th scope="col">Window</th><th scope="col">State</th><th scope="col">Attempts</th></tr></thead><tbody>${summaries.map((s) => html`<tr><td data-label="Window">${when(s.window.start, r.timezone)} – ${when(s.window.end, r.timezone)}</td><td data-label="State">${s.state}${s.last_error ? ` (${s.last_error})` : ''}</td><td data-label="Attempts">${s.attempts ?? '—'}</td></tr>`)}</tbody></table></div>`
}</section>`;
    return r.page(reply, req, `Policy ${name}`, 'sharing', body);
  });

  r.app.get('/api/sharing/:name/overlay', async (req) => {
    const { name } = parseInput(nameParam, req.params);
    const o = await r.call('policy.overlay', { name });
    return {
      unit: o.unit,
      series: [
        { label: `${o.metric}, every reading (stays home)`, ts: o.raw.ts, values: o.raw.values },
        { label: `${o.metric} ${o.stat} the vendor receives`, ts: o.vendor.ts, values: o.vendor.values },
      ],
    };
  });

  r.app.post('/sharing/:name/approve', async (req, reply) => {
    const { name } = parseInput(nameParam, req.params);
    const { version, accept_risk } = parseInput(
      z.object({
        version: z.string({ error: 'the form carries the version you reviewed' }).regex(/^[0-9a-f]{8,128}$/, { error: 'version must be the hash shown on the page' }),
        accept_risk: z.literal('high', { error: 'accept_risk: only "high" can be accepted' }).optional(),
      }),
      req.body,
    );
    // The book refuses with SLUICE_ERR_POLICY_STALE_REVIEW (409) when the file changed after the page was drawn.
    // A member's own login approves as that member ([CONSENT-5]); the household's login as the household.
    const r2 = await r.call('policy.approve', { name, hash: version, accept_risk, as: r.session(req).member ?? undefined }).catch((err: unknown) => {
      // The same refusal, in the dashboard's words rather than the CLI flag's.
      if (isSluiceError(err, 'SLUICE_ERR_POLICY_RISK_NOT_ACCEPTED'))
        throw new SluiceError('SLUICE_ERR_POLICY_RISK_NOT_ACCEPTED', `${name} scores high risk, so it is approved only when you tick "I accept the high risk". Nothing was approved. Go back to ${name}, read why it is high, and make it coarser or accept the risk.`, err.details);
      throw err;
    });
    if (!r2.in_force) {
      return r.page(
        reply,
        req,
        `Approved ${name}`,
        'sharing',
        html`<h1>Your approval of ${name} is recorded</h1><div class="banner ok" role="status"><p>It is waiting for ${r2.waiting_for.join(', ')}; nothing is sent until they approve the same version.</p></div><p><a href="/sharing/${encodeURIComponent(name)}">Back to ${name}</a></p>`,
      );
    }
    return r.page(
      reply,
      req,
      `Approved ${name}`,
      'sharing',
      html`${
        r2.in_force
          ? html`<h1>Approved ${name}</h1><div class="banner ok" role="status"><p>Version ${r2.version.slice(0, 12)} is approved${accept_risk ? ', with its high risk accepted' : ''}. It sends on its schedule; every send is on the ledger.${r2.catch_up.windows > 0 ? ` The ${r2.catch_up.windows} window${r2.catch_up.windows === 1 ? '' : 's'} that came due while it waited ${r2.catch_up.windows === 1 ? 'is' : 'are'} sent now, oldest first.` : ''}${r2.catch_up.not_produced > 0 ? ` ${r2.catch_up.not_produced} window${r2.catch_up.not_produced === 1 ? '' : 's'} from while it waited will not be sent (${r2.catch_up.reason === 'new-version' ? 'they fell before this new version' : 'past the catch-up bound'}).` : ''}</p></div>`
          : html`<h1>Approval recorded for ${name}</h1><div class="banner" role="status"><p>Your approval of version ${r2.version.slice(0, 12)} is recorded. It sends nothing until ${r2.waiting_for.join(', ')} approve${r2.waiting_for.length === 1 ? 's' : ''} too.</p></div>`
      }<p><a href="/sharing/${encodeURIComponent(name)}">Back to ${name}</a></p>`,
    );
  });

  r.app.post('/sharing/:name/run', async (req, reply) => {
    const { name } = parseInput(nameParam, req.params);
    const run = await r.call('policy.run', { name });
    return r.page(
      reply,
      req,
      `Sent ${name}`,
      'sharing',
      html`<h1>Summary queued for ${name}</h1><div class="banner ok" role="status"><p>${run.created ? 'A summary was made' : 'The summary of this window was made already'} and is ${run.state}. The ledger shows when the vendor received it.</p></div><p><a href="/sharing/${encodeURIComponent(name)}">Back to ${name}</a> · <a href="/ledger">See every send and approval</a></p>`,
    );
  });

  r.app.get('/sharing/:name/revoke', async (req, reply) => {
    const { name } = parseInput(nameParam, req.params);
    await r.call('policy.explain', { name });
    const enc = encodeURIComponent(name);
    const body = html`<h1>Revoke ${name}?</h1>
<p>Nothing more is sent under this policy. Summaries queued but not yet sent are deleted unsent. What was sent already stays on the ledger.</p>
<div class="actions"><form method="post" action="/sharing/${enc}/revoke" class="inline">${csrfField(r.session(req).csrf)}<button type="submit" class="danger">Yes, revoke ${name}</button></form>
<a class="button secondary" href="/sharing/${enc}">Cancel</a></div>`;
    return r.page(reply, req, `Revoke ${name}`, 'sharing', body);
  });

  r.app.post('/sharing/:name/revoke', async (req, reply) => {
    const { name } = parseInput(nameParam, req.params);
    const rv = await r.call('policy.revoke', { name, as: r.session(req).member ?? undefined });
    return r.page(
      reply,
      req,
      `Revoked ${name}`,
      'sharing',
      html`<h1>Revoked ${name}</h1><div class="banner ok" role="status"><p>Nothing more is sent under ${name}. ${rv.dropped} queued summar${rv.dropped === 1 ? 'y was' : 'ies were'} deleted unsent.</p></div><p><a href="/sharing/${encodeURIComponent(name)}">Back to ${name}</a></p>`,
    );
  });

  // [CONSENT-5] a member's veto from their own login: it stops the policy at once, under their name.
  r.app.post('/sharing/:name/veto', async (req, reply) => {
    const { name } = parseInput(nameParam, req.params);
    const member = r.session(req).member;
    if (!member) throw new SluiceError('SLUICE_ERR_MEMBER_REQUIRED', 'a veto names the member: log in with `sluice web login --as NAME`');
    const v = await r.call('policy.veto', { name, as: member });
    return r.page(
      reply,
      req,
      `Vetoed ${name}`,
      'sharing',
      html`<h1>${member} vetoed ${name}</h1><div class="banner ok" role="status"><p>${v.stopped ? 'It stopped at once.' : 'It cannot come into force until you approve it.'}${v.dropped > 0 ? ` ${v.dropped} queued summaries were deleted unsent.` : ''}</p></div><p><a href="/sharing/${encodeURIComponent(name)}">Back to ${name}</a></p>`,
    );
  });
}
