import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildApp, buildMaintenance, buildSharing, policyJobs } from '../../../src/app/index.js';
import { isSluiceError } from '../../../src/core/index.js';
import { documentBytes, signTerms } from '../../../src/terms/index.js';
import { appFixture } from '../app/fixture.js';

const vendor = generateKeyPairSync('ed25519');

describe('the terms gate in the disclosure path (share.require_terms: true)', () => {
  it('no window is due, run refuses and policy list says why until the vendor accepts; then windows are due again', async () => {
    const f = await appFixture();
    try {
      const context = { ...f.context, config: { ...f.context.config, share: { ...f.context.config.share, require_terms: true } } };
      const sharing = buildSharing(context);
      const app = buildApp({ context, sharing, maintenance: buildMaintenance(context) });
      await app.call('devices.add', { id: 't1', profile: 'thermostat' });
      await app.call('policy.approve', { name: 'acme' });
      const later = f.clock.now() + 3 * 86_400_000;
      const due = () => policyJobs(context, sharing).flatMap((j) => j.dueWindows(later, () => false));

      expect(due()).toEqual([]);
      expect((await app.call('policy.list'))[0]!.state_text).toBe('waiting: terms not accepted by acme-heating');
      const refused = await app.call('policy.run', { name: 'acme' }).catch((e: unknown) => e);
      expect(isSluiceError(refused, 'SLUICE_ERR_TERMS_NOT_ACCEPTED')).toBe(true);

      sharing.terms.prepare();
      const claim = sharing.terms.claim(1000)!;
      const doc = JSON.parse(claim.body.toString()) as { id: string; term: unknown };
      const answer = signTerms(
        {
          format: 'sluice.terms/v1',
          type: 'answer',
          in_reply_to: doc.id,
          in_reply_to_sha256: createHash('sha256').update(claim.body).digest('hex'),
          decision: 'accept',
          term: doc.term,
          answered_at: '2026-11-23T12:00:01Z',
          public_key: vendor.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
        },
        vendor.privateKey,
      );
      expect(sharing.terms.answered(claim, documentBytes(answer))).toEqual({ taken: true, state: 'accepted' });
      expect(due().length).toBeGreaterThan(0);
      expect((await app.call('policy.list'))[0]!.state_text).not.toContain('waiting');
      // With terms accepted the run goes ahead: this empty window is withheld, not refused.
      expect(await app.call('policy.run', { name: 'acme' })).toMatchObject({ state: 'withheld' });
    } finally {
      f.context.close();
    }
  });
});
