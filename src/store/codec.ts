import type { ReadingValue } from '../ingest/index.js';

export type SeriesType = 'number' | 'boolean' | 'enum';

/** Encodes a reading's value for the compact row: scaled integer, 0/1, or enum text. */
export function encodeValue(type: SeriesType, scale: number | null, value: ReadingValue): number | string {
  if (type === 'boolean') return value === true ? 1 : 0;
  if (type === 'enum') return String(value);
  const n = value as number;
  return scale ? Math.round(n / scale) : n;
}

export function decodeValue(type: SeriesType, scale: number | null, stored: number | string): ReadingValue {
  if (type === 'boolean') return stored === 1;
  if (type === 'enum') return String(stored);
  const n = stored as number;
  if (!scale) return n;
  // Round to the scale's decimals so 2150 × 0.01 reads 21.5, not 21.500000000000004.
  return Number((n * scale).toFixed(decimalsOf(scale)));
}

function decimalsOf(scale: number): number {
  const text = String(scale);
  const exp = /e-(\d+)$/.exec(text);
  if (exp) return Number(exp[1]);
  return text.split('.')[1]?.length ?? 0;
}
