import { z } from 'zod';

const iri = z.string().regex(/^(dpv|pd|sluice):[A-Za-z]+$/).describe('A compact IRI: dpv: = https://w3id.org/dpv#, pd: = https://w3id.org/dpv/pd#, sluice: = Sluice\'s own sub-classes');
const state = z.enum(['dpv:ConsentRequested', 'dpv:ConsentGiven', 'dpv:ConsentRefused', 'dpv:ConsentWithdrawn', 'dpv:ConsentExpired']);
const time = z.string().describe('ISO 8601 UTC time');

/** A consent record in the shape of ISO/IEC TS 27560; docs/schemas/consent-record.schema.json is generated from this. */
export const consentRecordSchema = z
  .object({
    '@context': z.object({ dpv: z.literal('https://w3id.org/dpv#'), pd: z.literal('https://w3id.org/dpv/pd#'), sluice: z.string() }).strict().describe('JSON-LD prefixes of the vocabulary terms used'),
    schema_version: z.literal('sluice-consent-record/1'),
    record_id: z.string().min(1).describe('27560 record identifier: stable for one policy and one data subject across every decision'),
    data_subject: z
      .object({ id: z.string().describe('The household member (or "household" when no members are named)'), type: iri.describe('dpv:Adult, dpv:Child, dpv:Visitor or dpv:DataSubject'), role: z.enum(['owner', 'adult', 'minor', 'guest', 'household']) })
      .strict()
      .describe('27560 PII principal: the person whose data the policy covers'),
    controller: z.object({ id: z.string().describe('The vendor named in the policy'), endpoint: z.string() }).strict().describe('27560 PII controller: the vendor'),
    purposes: z.array(z.object({ description: z.string().describe("The policy's purpose, in the household's words"), iri }).strict()).min(1),
    personal_data_categories: z.array(iri).describe('DPV-PD categories (Sluice sub-classes for indoor climate, energy use, occupancy, device usage)'),
    processing: z.array(iri).describe('DPV processing operations: derive (aggregate), pseudonymise, disclose'),
    recipients: z.array(z.object({ id: z.string(), endpoint: z.string() }).strict()),
    legal_basis: z.literal('dpv:Consent'),
    state: state.describe('The current consent state (DPV ConsentStatus)'),
    policy: z
      .object({
        name: z.string(),
        version: z.string().describe('The hash of the effective policy version the consent covers'),
        expires: z.string().describe('Last day in force (household timezone)'),
        covers: z.array(z.object({ rule: z.number().int(), metrics: z.array(z.string()), window: z.string(), stats: z.array(z.string()) }).strict()),
      })
      .strict(),
    agreement_sha256: z.string().nullable().describe("The hash of the household's accepted IEEE 7012 terms with this vendor; null until there are any"),
    history: z
      .array(
        z
          .object({
            at: time,
            event: z.enum(['given', 'consented', 'changed', 'revoked', 'vetoed', 'expired', 'terms-agreed']),
            state,
            by: z.string().nullable().describe('The member who decided; null for the household, an expiry or a removed file'),
            policy_version: z.string(),
            ledger_seq: z.number().int().describe('The ledger row of the decision'),
            waiting_for: z.array(z.string()).optional(),
          })
          .strict(),
      )
      .min(1)
      .describe('27560 state history: every decision, oldest first'),
    created: time,
    last_modified: time,
  })
  .strict();

/** The Kantara Consent Receipt 1.1 rendering; docs/schemas/kantara-receipt.schema.json is generated from this. */
export const kantaraReceiptSchema = z
  .object({
    version: z.literal('KI-CR-v1.1.0'),
    jurisdiction: z.string(),
    consentTimestamp: z.number().int().describe('Seconds since the epoch when consent was last given'),
    collectionMethod: z.string(),
    consentReceiptID: z.string().describe('The 27560 record id'),
    language: z.string(),
    piiPrincipalId: z.string(),
    piiControllers: z.array(z.object({ piiController: z.string(), contact: z.string(), address: z.string(), email: z.string(), phone: z.string(), piiControllerUrl: z.string() }).strict()).min(1),
    policyUrl: z.string(),
    services: z.array(
      z
        .object({
          service: z.string(),
          purposes: z.array(
            z
              .object({
                purpose: z.string(),
                purposeCategory: z.array(z.string()),
                consentType: z.literal('EXPLICIT'),
                piiCategory: z.array(z.string()),
                primaryPurpose: z.boolean(),
                termination: z.string(),
                thirdPartyDisclosure: z.boolean(),
                thirdPartyName: z.string().optional(),
              })
              .strict(),
          ),
        })
        .strict(),
    ),
    sensitive: z.boolean(),
    spiCat: z.array(z.string()),
    'x-sluice-state': state.describe('Not in KI-CR 1.1: the record state, so a receipt of a withdrawn consent says so'),
    'x-sluice-agreement-sha256': z.string().nullable().describe("Not in KI-CR 1.1: the hash of the household's accepted IEEE 7012 terms with this vendor (agreement_sha256 of the record)"),
  })
  .strict();

export function consentJsonSchemas(): Record<string, Record<string, unknown>> {
  return {
    'consent-record.schema.json': { ...(z.toJSONSchema(consentRecordSchema) as Record<string, unknown>), $id: 'https://sluice.invalid/schemas/consent-record.schema.json', title: 'Sluice consent record (ISO/IEC TS 27560 shape)' },
    'kantara-receipt.schema.json': { ...(z.toJSONSchema(kantaraReceiptSchema) as Record<string, unknown>), $id: 'https://sluice.invalid/schemas/kantara-receipt.schema.json', title: 'Sluice consent receipt (Kantara Consent Receipt 1.1)' },
  };
}
