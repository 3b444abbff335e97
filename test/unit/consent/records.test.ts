import { describe, expect, it } from 'vitest';
import { buildRecord, categoryOf, concernOf, nextState, toKantara, type Member } from '../../../src/consent/index.js';
import type { ConsentEvent, EffectivePolicy } from '../../../src/policy/index.js';

const effective = {
  name: 'acme',
  hash: 'v1',
  text: '',
  policy: { vendor: 'Acme', endpoint: 'https://acme.example/x', purpose: 'Tune my heating', expires: '2099-01-01' },
  rules: [{ index: 1, line: 9, devices: ['t1'], profiles: {}, rule: { metrics: ['temperature', 'power', 'occupied'], window: '1d', stats: ['mean'] } }],
} as unknown as EffectivePolicy;
const event = (kind: ConsentEvent['kind'], by: string | null, version = 'v1'): ConsentEvent => ({ kind, policy: 'acme', vendor: 'Acme', version, effective: { ...effective, hash: version }, by, waitingFor: [], concern: null, ledgerSeq: 7 });
const m = (name: string, role: Member['role']): Member => ({ name, role, addedAt: 0 });

describe('consent records', () => {
  it('map metrics to DPV-based categories and keep a history of states', () => {
    expect(['temperature', 'setpoint_heat', 'energy', 'occupied', 'brews'].map(categoryOf)).toEqual(['sluice:IndoorClimate', 'sluice:IndoorClimate', 'sluice:EnergyUse', 'sluice:Occupancy', 'sluice:DeviceUsage']);
    const given = buildRecord({ prev: null, id: 'r1', subject: { id: 'Ana', role: 'owner' }, event: event('given', 'Ana'), at: 0 });
    expect(given).toMatchObject({ record_id: 'r1', state: 'dpv:ConsentGiven', data_subject: { id: 'Ana', type: 'dpv:Adult' }, personal_data_categories: ['sluice:EnergyUse', 'sluice:IndoorClimate', 'sluice:Occupancy'] });
    // A change waiting for approval leaves the given consent describing the version it covers.
    const changed = buildRecord({ prev: given, id: 'r2', subject: { id: 'Ana', role: 'owner' }, event: event('changed', null, 'v2'), at: 1000 });
    expect(changed).toMatchObject({ record_id: 'r1', state: 'dpv:ConsentGiven', policy: { version: 'v1' } });
    const vetoed = buildRecord({ prev: changed, id: 'r3', subject: { id: 'Ana', role: 'owner' }, event: event('vetoed', 'Ben'), at: 2000 });
    expect(vetoed.history.map((h) => h.state)).toEqual(['dpv:ConsentGiven', 'dpv:ConsentGiven', 'dpv:ConsentWithdrawn']);
    expect(nextState(null, 'vetoed')).toBe('dpv:ConsentRefused');
    expect(toKantara(vetoed, { jurisdiction: 'DE' })).toMatchObject({ consentTimestamp: 0, sensitive: true, spiCat: ['sluice:Occupancy'], services: [{ service: 'acme', purposes: [{ purposeCategory: ['dpv:ServiceOptimisation'], consentType: 'EXPLICIT' }] }] });
  });

  it('concern: shared spaces need every adult (or the owners, when they decide), unassigned devices count as shared', () => {
    const members = [m('Ana', 'owner'), m('Ben', 'adult'), m('Tom', 'minor'), m('Gia', 'guest')];
    const assignments = [
      { scopeKind: 'room' as const, scope: 'guest-room', member: 'Gia' },
      { scopeKind: 'device' as const, scope: 'teen', member: 'Tom' },
      { scopeKind: 'room' as const, scope: 'living', member: null },
    ];
    const roomOf = (id: string) => ({ g: 'guest-room', l: 'living' })[id] ?? null;
    expect(concernOf(['l'], members, assignments, roomOf)).toEqual({ allOf: ['Ana', 'Ben'], anyOf: [], subjects: ['Ana', 'Ben', 'Tom'], vetoers: ['Ana', 'Ben'] });
    expect(concernOf(['l'], members, assignments, roomOf, 'owner_decides')).toMatchObject({ allOf: ['Ana'] });
    expect(concernOf(['g'], members, assignments, roomOf)).toEqual({ allOf: ['Gia'], anyOf: [], subjects: ['Gia'], vetoers: ['Gia'] });
    expect(concernOf(['teen'], members, assignments, roomOf)).toEqual({ allOf: [], anyOf: [['Ana', 'Ben']], subjects: ['Tom'], vetoers: ['Ana', 'Ben'] });
    expect(concernOf(['unplaced'], members, assignments, roomOf)?.allOf).toEqual(['Ana', 'Ben']);
    // A policy that selects no device yet is a shared space too: otherwise nobody could approve it.
    expect(concernOf([], members, assignments, roomOf)).toMatchObject({ allOf: ['Ana', 'Ben'], subjects: ['Ana', 'Ben', 'Tom'] });
    expect(concernOf(['l'], [m('Gia', 'guest')], [], roomOf)).toBeNull();
  });
});

describe('consent record JSON Schemas', () => {
  it('docs/schemas are generated from the zod schemas, and built records and receipts satisfy them', async () => {
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { join, resolve } = await import('node:path');
    const { consentJsonSchemas, consentRecordSchema, kantaraReceiptSchema } = await import('../../../src/consent/index.js');
    const root = resolve(import.meta.dirname, '..', '..', '..');
    for (const [file, schema] of Object.entries(consentJsonSchemas())) {
      const path = join(root, 'docs', 'schemas', file);
      const text = `${JSON.stringify(schema, null, 2)}\n`;
      if (process.env.UPDATE_DOCS === '1') writeFileSync(path, text);
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
    const given = buildRecord({ prev: null, id: 'r1', subject: { id: 'Tom', role: 'minor' }, event: { ...event('consented', 'Ana'), waitingFor: ['Ben'] }, at: 0 });
    const revoked = buildRecord({ prev: buildRecord({ prev: given, id: 'x', subject: { id: 'Tom', role: 'minor' }, event: event('given', 'Ben'), at: 1 }), id: 'x', subject: { id: 'Tom', role: 'minor' }, event: event('revoked', 'Ana'), at: 2 });
    expect(consentRecordSchema.safeParse(revoked).success).toBe(true);
    expect(kantaraReceiptSchema.safeParse(toKantara(revoked, { jurisdiction: 'DE' })).success).toBe(true);
    expect(consentRecordSchema.safeParse({ ...revoked, legal_basis: 'dpv:LegitimateInterest' }).success).toBe(false);
  });
});
