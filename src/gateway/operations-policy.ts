import { SluiceError, isSluiceError, type AdminHandler } from '../core/index.js';
import { describeChanges, explainPolicy, formatFindings, isoInZone, nextRuns, stateText, type PolicyStatus } from '../policy/index.js';
import type { GatewayContext } from './context.js';
import { buildSharing } from './sharing.js';

/** Admin operations of the disclosure path: policies, previews, approvals, runs and the ledger. */
export function policyOperations(ctx: GatewayContext): Record<string, AdminHandler> {
  const sharing = buildSharing(ctx);
  const { book, ledger, outbox, disclosures } = sharing;
  const tz = ctx.config.timezone;
  const name = (p: Record<string, unknown>) => {
    if (typeof p.name !== 'string' || p.name === '') throw new SluiceError('SLUICE_ERR_USAGE', 'a policy NAME is required');
    return p.name;
  };
  const problemsText = (s: PolicyStatus): string | null => {
    if (s.error) return s.error.message;
    if (s.findings.length === 0 || !s.file) return null;
    return formatFindings(s.file.parsed.file, s.file.text, s.findings);
  };

  return {
    'policy.list': () => {
      book.refresh();
      return book.names().map((n) => {
        const s = book.status(n);
        const e = s.current ?? s.approved?.effective;
        let next: string | null = null;
        if (s.inForce && s.approved) {
          try {
            next = nextRuns(s.approved.effective.policy.schedule, tz, ctx.clock.now(), 1)[0] ?? null;
          } catch {
            next = null;
          }
        }
        return {
          name: n,
          vendor: e?.policy.vendor ?? null,
          state: s.state,
          state_text: stateText(s),
          in_force: s.inForce,
          version: s.approved?.hash ?? null,
          pending_version: s.state === 'changed' ? (s.current?.hash ?? null) : null,
          approved_at: s.approved ? new Date(s.approved.approvedAt).toISOString() : null,
          expires: e?.policy.expires ?? null,
          next_run: next,
        };
      });
    },
    'policy.check': (p) => {
      const names = typeof p.name === 'string' ? [p.name] : book.names();
      book.refresh();
      return names.map((n) => {
        const s = book.status(n);
        const errors = s.error !== null || s.findings.some((f) => f.severity === 'error');
        return { name: n, ok: !errors, state: s.state, problems: problemsText(s), version: s.current?.hash ?? null };
      });
    },
    'policy.explain': (p) => {
      const s = book.status(name(p));
      return {
        name: s.name,
        state: s.state,
        state_text: stateText(s),
        text: explainPolicy(s, tz, ctx.clock.now()),
        version: s.current?.hash ?? null,
        approved_version: s.approved?.hash ?? null,
        changes: s.current ? describeChanges(s.approved && s.approved.revokedAt === null ? s.approved.effective : null, s.current) : [],
        problems: problemsText(s),
      };
    },
    'policy.preview': (p) => {
      const preview = disclosures.preview(name(p), typeof p.window === 'string' ? p.window : undefined);
      return {
        body: preview.summary.body.toString('utf8'),
        body_sha256: preview.summary.bodySha256,
        basis: preview.basis,
        window: { start: isoInZone(preview.window.start, tz), end: isoInZone(preview.window.end, tz) },
        omitted: preview.summary.omitted.map((o) => ({ rule: o.rule, metric: o.metric, samples: o.samples, min_samples: o.minSamples })),
      };
    },
    'policy.approve': (p) => {
      const n = name(p);
      const before = book.approved(n);
      const approved = book.approve(n, typeof p.hash === 'string' ? p.hash : undefined);
      ctx.events.emit('policy.decided', { policy: n, decision: 'approved' });
      return {
        name: n,
        version: approved.hash,
        changes: describeChanges(before && before.revokedAt === null ? before.effective : null, approved.effective),
      };
    },
    'policy.revoke': (p) => {
      const n = name(p);
      let dropped = 0;
      const revoked = book.revoke(n, () => {
        dropped = outbox.dropPolicy(n, 'revoked');
      });
      ctx.events.emit('policy.decided', { policy: n, decision: 'revoked' });
      return { name: n, version: revoked.hash, dropped };
    },
    'policy.run': (p) => {
      const n = name(p);
      const approved = book.inForce(n);
      if (!approved) {
        const s = book.approved(n);
        if (!s) book.status(n); // throws SLUICE_ERR_POLICY_UNKNOWN for a name with no file
        throw new SluiceError('SLUICE_ERR_POLICY_NOT_APPROVED', `policy ${n} ${!s ? 'is not approved' : s.revokedAt !== null ? 'was revoked' : 'has expired'}; nothing is produced or sent`);
      }
      const window = disclosures.window(approved.effective, typeof p.window === 'string' ? p.window : undefined);
      const r = disclosures.run(n, window);
      return { summary_id: r.summaryId, created: r.created, state: r.state, window: r.window };
    },
    'policy.summaries': (p) =>
      outbox.list({ policy: typeof p.name === 'string' ? p.name : undefined }).map((s) => ({
        id: s.id,
        policy: s.policy,
        vendor: s.vendor,
        window: { start: isoInZone(s.windowStart, tz), end: isoInZone(s.windowEnd, tz) },
        state: s.state,
        attempts: s.attempts,
        last_error: s.lastError,
        http_status: s.httpStatus,
        body_sha256: s.bodySha256,
      })),
    'ledger.show': (p) =>
      ledger.rows({ vendor: typeof p.vendor === 'string' ? p.vendor : undefined }).map((r) => ({
        seq: r.seq,
        at: new Date(r.at).toISOString(),
        kind: r.kind,
        vendor: r.vendor,
        policy: r.policy,
        version: r.version,
        summary_id: r.summaryId,
        detail: r.detail,
        hash: r.hash,
      })),
    'ledger.verify': () => {
      try {
        return ledger.verify();
      } catch (err) {
        if (isSluiceError(err)) throw err;
        throw new SluiceError('SLUICE_ERR_LEDGER_BROKEN', `the ledger cannot be read: ${(err as Error).message}`);
      }
    },
  };
}
