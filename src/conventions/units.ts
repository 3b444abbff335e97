/**
 * Declared unit → Sluice's neutral unit. The unit always comes from what the device declares
 * (exposes, unit_of_measurement, $unit, the convention's documented unit), never from a key name:
 * Zigbee2MQTT `voltage` is mV on battery sensors and V on plugs.
 */
interface Conversion {
  unit: string;
  convert: (v: number) => number;
}

const same = (unit: string): Conversion => ({ unit, convert: (v) => v });
const scale = (unit: string, k: number): Conversion => ({ unit, convert: (v) => v * k });

const CONVERSIONS = new Map<string, Conversion>([
  ['°C', same('°C')],
  ['C', same('°C')],
  ['ºC', same('°C')],
  ['°F', { unit: '°C', convert: (f) => ((f - 32) * 5) / 9 }],
  ['F', { unit: '°C', convert: (f) => ((f - 32) * 5) / 9 }],
  ['K', same('K')],
  ['%', same('%')],
  ['W', same('W')],
  ['kW', scale('W', 1000)],
  ['mW', scale('W', 0.001)],
  ['kWh', same('kWh')],
  ['Wh', scale('kWh', 0.001)],
  ['mWh', scale('kWh', 0.000001)],
  ['V', same('V')],
  ['mV', scale('V', 0.001)],
  ['A', same('A')],
  ['mA', scale('A', 0.001)],
  ['lx', same('lx')],
  ['hPa', same('hPa')],
  ['Pa', scale('hPa', 0.01)],
  ['ppm', same('ppm')],
  ['dBm', same('dBm')],
  ['s', same('s')],
  ['ms', scale('s', 0.001)],
  ['µg/m³', same('µg/m³')],
]);

export type Normalised = { ok: true; unit: string; convert: (v: number) => number } | { ok: false };

/** The neutral unit and conversion for a declared unit; unknown units are not guessed. */
export function normaliseUnit(declared: string): Normalised {
  const c = CONVERSIONS.get(declared.trim());
  return c ? { ok: true, unit: c.unit, convert: c.convert } : { ok: false };
}

/** Rounds away binary noise from unit conversion (0.1 * 3 → 0.30000000000000004). */
export function tidy(v: number): number {
  return Number.parseFloat(v.toPrecision(12));
}

/** Converts a neutral-range bound through the same conversion as values. */
export function convertRange(n: Normalised, min?: number, max?: number): { min?: number; max?: number } {
  if (!n.ok) return {};
  const out: { min?: number; max?: number } = {};
  if (min !== undefined) out.min = tidy(n.convert(min));
  if (max !== undefined) out.max = tidy(n.convert(max));
  return out;
}

/** snake_case name from a convention's property name, for metrics without a neutral meaning. */
export function snakeName(raw: string): string | undefined {
  const s = raw
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return /^[a-z][a-z0-9_]*$/.test(s) ? s : undefined;
}
