import { createHmac } from 'node:crypto';
import type { TimeWindow } from '../policy/index.js';

/** Vendor names compared as a household would: case, width and spacing do not matter. */
export function normaliseVendor(vendor: string): string {
  return vendor.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ');
}

/**
 * The key behind everything one vendor sees: HMAC-SHA256(gateway secret, vendor). [PRIV-13]
 * every id and hash in a body is keyed with it, so two vendors (or two households with the
 * same device names and policy text) share no identifier, and no guess can be tested offline.
 */
export function vendorKey(gatewaySecret: Buffer, vendor: string): Buffer {
  return createHmac('sha256', gatewaySecret).update(`sluice-vendor-key/1\n${normaliseVendor(vendor)}`).digest();
}

function keyed(key: Buffer, label: string, ...parts: string[]): string {
  return createHmac('sha256', key).update([label, ...parts].join('\n')).digest('hex');
}

/** The household's pseudonym at one vendor: stable for it, unrelated to every other vendor's. */
export function householdPseudonym(key: Buffer): string {
  return keyed(key, 'sluice-household/2').slice(0, 32);
}

/** The policy version as this vendor sees it: changes when the approved version changes, reveals nothing of it. */
export function vendorVersion(key: Buffer, policyHash: string): string {
  return keyed(key, 'sluice-version/2', policyHash);
}

/** The deterministic id of one window's summary of one approved version (also the idempotency key). */
export function summaryId(key: Buffer, policyHash: string, window: TimeWindow): string {
  return keyed(key, 'sluice-summary-id/2', policyHash, String(window.start), String(window.end)).slice(0, 32);
}
