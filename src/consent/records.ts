import type { ConsentEvent, EffectivePolicy } from '../policy/index.js';
import type { MemberRole } from './concern.js';

// W3C Data Privacy Vocabulary namespaces; `sluice:` holds the sub-classes DPV has no term for.
export const DPV = 'https://w3id.org/dpv#';
export const DPV_PD = 'https://w3id.org/dpv/pd#';
export const SLUICE_VOCAB = 'https://sluice.example/vocab#';
export const RECORD_CONTEXT = { dpv: DPV, pd: DPV_PD, sluice: SLUICE_VOCAB } as const;

/** Sluice's own personal-data categories, each a sub-class of a DPV-PD category (documented in docs/consent.md). */
export const SLUICE_CATEGORIES = {
  'sluice:IndoorClimate': 'pd:Household',
  'sluice:EnergyUse': 'pd:Household',
  'sluice:Occupancy': 'pd:Behavioral',
  'sluice:DeviceUsage': 'pd:Behavioral',
} as const;

export type ConsentStateIri = 'dpv:ConsentRequested' | 'dpv:ConsentGiven' | 'dpv:ConsentRefused' | 'dpv:ConsentWithdrawn' | 'dpv:ConsentExpired';

const CLIMATE = /^(temperature|humidity|setpoint.*|co2|pressure|illuminance|valve_position|heating|window_open|mode)$/;
const ENERGY = /^(power|energy|voltage|current|power_factor|battery.*)$/;
const OCCUPANCY = /^(occupied|occupancy|motion|presence|open|door_open|contact|locked|unlocked_by)$/;

/** The personal-data category of one metric: what it reveals about the people at home. */
export function categoryOf(metric: string): keyof typeof SLUICE_CATEGORIES {
  if (CLIMATE.test(metric)) return 'sluice:IndoorClimate';
  if (ENERGY.test(metric)) return 'sluice:EnergyUse';
  if (OCCUPANCY.test(metric)) return 'sluice:Occupancy';
  return 'sluice:DeviceUsage';
}

export interface DataSubject {
  id: string;
  role: MemberRole | 'household';
}

const SUBJECT_TYPE: Record<DataSubject['role'], string> = { owner: 'dpv:Adult', adult: 'dpv:Adult', minor: 'dpv:Child', guest: 'dpv:Visitor', household: 'dpv:DataSubject' };

export interface HistoryEntry {
  at: string;
  /** A decision on the policy, or `terms-agreed`: the vendor accepted the household's IEEE 7012 terms (src/terms). */
  event: ConsentEvent['kind'] | 'terms-agreed';
  state: ConsentStateIri;
  by: string | null;
  policy_version: string;
  ledger_seq: number;
  waiting_for?: string[];
}

/** A consent record in the shape of ISO/IEC TS 27560 (field names in docs/consent.md; JSON Schema in docs/schemas/consent-record.schema.json). */
export interface ConsentRecord {
  '@context': typeof RECORD_CONTEXT;
  schema_version: 'sluice-consent-record/1';
  record_id: string;
  data_subject: { id: string; type: string; role: DataSubject['role'] };
  controller: { id: string; endpoint: string };
  purposes: Array<{ description: string; iri: string }>;
  personal_data_categories: string[];
  processing: string[];
  recipients: Array<{ id: string; endpoint: string }>;
  legal_basis: 'dpv:Consent';
  state: ConsentStateIri;
  policy: { name: string; version: string; expires: string; covers: Array<{ rule: number; metrics: string[]; window: string; stats: string[] }> };
  /** The hash of the household's accepted terms with this vendor (IEEE 7012), once there is one. */
  agreement_sha256: string | null;
  history: HistoryEntry[];
  created: string;
  last_modified: string;
}

/** The state a decision leaves the record in; a partial approval or a change leaves a given consent given. */
export function nextState(prev: ConsentStateIri | null, event: ConsentEvent['kind']): ConsentStateIri {
  switch (event) {
    case 'given':
      return 'dpv:ConsentGiven';
    case 'consented':
    case 'changed':
      return prev === 'dpv:ConsentGiven' ? prev : 'dpv:ConsentRequested';
    case 'revoked':
      return 'dpv:ConsentWithdrawn';
    case 'vetoed':
      return prev === 'dpv:ConsentGiven' ? 'dpv:ConsentWithdrawn' : 'dpv:ConsentRefused';
    case 'expired':
      return 'dpv:ConsentExpired';
  }
}

function covers(e: EffectivePolicy): ConsentRecord['policy']['covers'] {
  return e.rules.map((r) => ({ rule: r.index, metrics: [...r.rule.metrics], window: r.rule.window, stats: [...r.rule.stats] }));
}

/**
 * The record of one data subject after one decision: `prev` is the record before it (or null),
 * `id` the record id to use for a new one. Pure: the caller supplies time and id.
 */
export function buildRecord(input: { prev: ConsentRecord | null; id: string; subject: DataSubject; event: ConsentEvent; at: number; agreement?: string | null }): ConsentRecord {
  const { prev, subject, event } = input;
  const e = event.effective;
  const p = e.policy;
  const at = new Date(input.at).toISOString();
  const state = nextState(prev?.state ?? null, event.kind);
  // A given consent keeps describing the version it covers until a new one is given.
  const describe = state === 'dpv:ConsentGiven' && prev?.state === 'dpv:ConsentGiven' && event.kind !== 'given' ? null : e;
  const base = describe
    ? {
        controller: { id: p.vendor, endpoint: p.endpoint },
        purposes: [{ description: p.purpose, iri: e.rules.length === 0 && p.disclose_on_acceptance ? 'dpv:DeliveryOfGoods' : 'dpv:ServiceOptimisation' }],
        // An acceptance of an offer may tell this vendor where to deliver: the record names that too.
        personal_data_categories: [...new Set([...e.rules.flatMap((r) => r.rule.metrics.map(categoryOf)), ...(p.disclose_on_acceptance?.includes('deliver_to') ? ['pd:PhysicalAddress'] : [])])].sort(),
        processing: ['dpv:Derive', 'dpv:Pseudonymise', 'dpv:Disclose'],
        recipients: [{ id: p.vendor, endpoint: p.endpoint }],
        policy: { name: e.name, version: e.hash, expires: p.expires, covers: covers(e) },
      }
    : { controller: prev!.controller, purposes: prev!.purposes, personal_data_categories: prev!.personal_data_categories, processing: prev!.processing, recipients: prev!.recipients, policy: prev!.policy };
  const entry: HistoryEntry = { at, event: event.kind, state, by: event.by, policy_version: event.version, ledger_seq: event.ledgerSeq, ...(event.waitingFor.length > 0 ? { waiting_for: event.waitingFor } : {}) };
  return {
    '@context': RECORD_CONTEXT,
    schema_version: 'sluice-consent-record/1',
    record_id: prev?.record_id ?? input.id,
    data_subject: { id: subject.id, type: SUBJECT_TYPE[subject.role], role: subject.role },
    ...base,
    legal_basis: 'dpv:Consent',
    state,
    agreement_sha256: input.agreement ?? prev?.agreement_sha256 ?? null,
    history: [...(prev?.history ?? []), entry],
    created: prev?.created ?? at,
    last_modified: at,
  };
}

/** The record once the vendor has accepted the household's terms: the agreement's hash, and a history entry saying so. Pure. */
export function withAgreement(r: ConsentRecord, input: { sha256: string; at: number; by: string | null; ledgerSeq: number }): ConsentRecord {
  const at = new Date(input.at).toISOString();
  const entry: HistoryEntry = { at, event: 'terms-agreed', state: r.state, by: input.by, policy_version: r.policy.version, ledger_seq: input.ledgerSeq };
  return { ...r, agreement_sha256: input.sha256, history: [...r.history, entry], last_modified: at };
}

/** Kantara Consent Receipt Specification v1.1 rendering of the same record (docs/schemas/kantara-receipt.schema.json). */
export interface KantaraReceipt {
  version: 'KI-CR-v1.1.0';
  jurisdiction: string;
  consentTimestamp: number;
  collectionMethod: string;
  consentReceiptID: string;
  language: string;
  piiPrincipalId: string;
  piiControllers: Array<{ piiController: string; contact: string; address: string; email: string; phone: string; piiControllerUrl: string }>;
  policyUrl: string;
  services: Array<{
    service: string;
    purposes: Array<{ purpose: string; purposeCategory: string[]; consentType: 'EXPLICIT'; piiCategory: string[]; primaryPurpose: boolean; termination: string; thirdPartyDisclosure: boolean; thirdPartyName?: string }>;
  }>;
  sensitive: boolean;
  spiCat: string[];
  /** Not in v1.1: the 27560 state, so a receipt of a withdrawn consent says so. */
  'x-sluice-state': ConsentStateIri;
  /** Not in v1.1: the household's accepted IEEE 7012 terms with this vendor, as in the 27560 record. */
  'x-sluice-agreement-sha256': string | null;
}

export function toKantara(r: ConsentRecord, opts: { jurisdiction: string; language?: string }): KantaraReceipt {
  const lastGiven = [...r.history].reverse().find((h) => h.event === 'given') ?? r.history.filter((h) => h.event !== 'terms-agreed').at(-1) ?? r.history.at(-1)!;
  return {
    version: 'KI-CR-v1.1.0',
    jurisdiction: opts.jurisdiction,
    consentTimestamp: Math.floor(Date.parse(lastGiven.at) / 1000),
    collectionMethod: `sluice policy approve (member ${lastGiven.by ?? 'household'})`,
    consentReceiptID: r.record_id,
    language: opts.language ?? 'en',
    piiPrincipalId: r.data_subject.id,
    // A vendor's contact details are not in the policy language yet; the endpoint is what Sluice knows.
    piiControllers: [{ piiController: r.controller.id, contact: '', address: '', email: '', phone: '', piiControllerUrl: r.controller.endpoint }],
    policyUrl: `sluice:policy/${r.policy.name}@${r.policy.version}`,
    services: [
      {
        service: r.policy.name,
        purposes: r.purposes.map((p) => ({
          purpose: p.description,
          purposeCategory: [p.iri],
          consentType: 'EXPLICIT',
          piiCategory: r.personal_data_categories,
          primaryPurpose: true,
          termination: `revocable at any time by any adult it concerns; ends ${r.policy.expires}`,
          thirdPartyDisclosure: true,
          thirdPartyName: r.controller.id,
        })),
      },
    ],
    sensitive: r.personal_data_categories.includes('sluice:Occupancy'),
    spiCat: r.personal_data_categories.filter((c) => c === 'sluice:Occupancy'),
    'x-sluice-state': r.state,
    'x-sluice-agreement-sha256': r.agreement_sha256,
  };
}
