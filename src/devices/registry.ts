import { createHash } from 'node:crypto';
import { SluiceError, type Clock, type Migration, type SluiceDatabase } from '../core/index.js';
import { generatePassword, hashDevicePassword, isOutdatedDeviceHash, verifyPassword } from './credentials.js';
import { CONVENTION_NAMES, conventions, type ConventionName, type DiscoveredDevice, type DiscoveredMetric } from '../conventions/index.js';
import type { DeviceProfile, MetricSpec } from './profile.js';

/** device: one thing in the house; bridge: Zigbee2MQTT and the like, under a base topic; household: the household's own tools. */
export type Role = 'device' | 'bridge' | 'household';
export const ROLES: readonly Role[] = ['device', 'bridge', 'household'];

export interface DeviceRecord {
  id: string;
  role: Role;
  profile: string | null;
  /** For a bridge: the base topic it may use (e.g. `zigbee2mqtt`). */
  baseTopic: string | null;
  /** Made by `sluice simulate`; never shared unless a policy names it. */
  simulated: boolean;
  createdAt: number;
  /** For a device behind a bridge: the bridge's id; such a device has no MQTT login of its own. */
  via: string | null;
  /** For a device behind a bridge: its name on the bridge (Zigbee2MQTT friendly name), the topic level(s) after the base topic. */
  source: string | null;
  /** The household's name for it (a discovered device starts with its name on the bridge). */
  name?: string | null;
  room?: string | null;
  /** For a discovered device: its kind (inferred, or set by the household); others take the profile's. */
  kind?: string | null;
  /** Registered by itself from a bridge's announcements (its `source` is the convention's key). */
  discovered?: boolean;
  /** For a discovered device: the metrics the bridge announced, in neutral units. */
  metrics?: readonly DiscoveredMetric[] | null;
}

export interface NewDevice {
  id: string;
  role?: Role;
  profile?: string | null;
  baseTopic?: string | null;
  simulated?: boolean;
  via?: string | null;
  source?: string | null;
}

export const DEVICE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const deviceMigrations: Migration[] = [
  {
    module: 'devices',
    version: 1,
    description: 'device registry with scrypt credentials',
    up: (db) =>
      db.exec(`CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('device', 'bridge', 'household')),
        profile TEXT,
        base_topic TEXT,
        simulated INTEGER NOT NULL DEFAULT 0,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID`),
  },
  {
    module: 'devices',
    version: 2,
    description: 'devices behind a bridge: via (bridge id) and source (name on the bridge)',
    up: (db) =>
      db.exec(`ALTER TABLE devices ADD COLUMN via TEXT;
        ALTER TABLE devices ADD COLUMN source TEXT;
        CREATE UNIQUE INDEX devices_via_source ON devices (via, source) WHERE via IS NOT NULL;`),
  },
  {
    module: 'devices',
    version: 3,
    description: 'discovered devices (name, room, kind, metrics), ignored ones, and what each bridge taught',
    up: (db) =>
      db.exec(`ALTER TABLE devices ADD COLUMN name TEXT;
        ALTER TABLE devices ADD COLUMN room TEXT;
        ALTER TABLE devices ADD COLUMN kind TEXT;
        ALTER TABLE devices ADD COLUMN discovered INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE devices ADD COLUMN metrics TEXT;
        CREATE TABLE bridge_ignored (bridge_id TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (bridge_id, key)) WITHOUT ROWID;
        CREATE TABLE bridge_state (bridge_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;`),
  },
];

/** Whether a profile name is a bridge convention (`--role bridge --profile zigbee2mqtt`). */
export function isConvention(profile: string | null): profile is ConventionName {
  return profile !== null && (CONVENTION_NAMES as readonly string[]).includes(profile);
}

/**
 * MQTT filters a bridge may publish under: its base topic, or for a convention the topics that
 * convention uses (Tasmota has no base; Home Assistant discovery states live under the bridge id).
 */
export function bridgeNamespace(bridge: Pick<DeviceRecord, 'id' | 'profile' | 'baseTopic'>): string[] {
  const base = bridge.baseTopic ?? bridge.id;
  const under = (b: string) => (b === '' ? [] : [`${b}/#`]);
  switch (isConvention(bridge.profile) ? bridge.profile : undefined) {
    case 'zigbee2mqtt':
      // Zigbee2MQTT's Home Assistant integration publishes discovery under homeassistant/ and
      // listens to homeassistant/status; those configs point back into its own base.
      return [...under(base), 'homeassistant/#'];
    case 'tasmota': {
      const p = base === '' ? '' : `${base}/`;
      return [`${p}tele/#`, `${p}stat/#`, 'tasmota/discovery/#', 'homeassistant/#'];
    }
    case 'homeassistant':
      // An ESPHome node's states sit under its topic_prefix: `<bridge id>/…` keeps them in the namespace.
      return [...under(base), `${bridge.id}/#`];
    default:
      return under(base);
  }
}

/** What a bridge's discovered device's metrics become: a profile the store and policies read like a file's. */
export function discoveredProfile(record: DeviceRecord): DeviceProfile | undefined {
  if (!record.discovered || !record.profile) return undefined;
  const metrics: Record<string, MetricSpec> = {};
  for (const m of record.metrics ?? []) {
    if (Object.hasOwn(metrics, m.metric)) continue;
    let spec: MetricSpec;
    if (m.type === 'number') {
      const n: MetricSpec = { type: 'number', unit: m.unit ?? '', never_store: false, counter: m.counter ?? false };
      if (m.min !== undefined) n.min = m.min;
      if (m.max !== undefined) n.max = m.max;
      spec = n;
    } else if (m.type === 'enum') spec = { type: 'enum', values: m.values && m.values.length > 0 ? [...m.values] : ['unknown'], never_store: false };
    else spec = { type: 'boolean', never_store: false };
    metrics[m.metric] = Object.freeze(spec);
  }
  return Object.freeze({ version: 1 as const, kind: record.kind ?? 'unknown', convention: record.profile.split('/')[0], metrics, name: record.profile, file: `(discovered by bridge ${record.via ?? ''})` });
}

/** A stable device id from a bridge id and a convention key: `z2m-0x00158d0001a2b3c4`. */
export function discoveredId(bridgeId: string, key: string): string {
  const slug = `${bridgeId}-${key}`.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/-+/g, '-').replace(/^[-_]+|-+$/g, '');
  if (slug.length > 0 && slug.length <= 64) return slug;
  // Too long (HA identifiers can be): keep the start readable and the end unique.
  const digest = createHash('sha256').update(`${bridgeId}\0${key}`).digest('hex').slice(0, 10);
  return `${slug.slice(0, 53).replace(/-+$/, '') || 'd'}-${digest}`;
}

/** Stored instead of a hash for a device behind a bridge: no password can match it. */
const NO_LOGIN = '!no-login';

interface Row {
  id: string;
  role: Role;
  profile: string | null;
  base_topic: string | null;
  simulated: number;
  password_hash: string;
  created_at: number;
  via: string | null;
  source: string | null;
  name: string | null;
  room: string | null;
  kind: string | null;
  discovered: number;
  metrics: string | null;
}

/** Registered devices and their credentials; the in-memory copy serves every MQTT packet. */
export class DeviceRegistry {
  private readonly byId = new Map<string, { record: DeviceRecord; hash: string }>();
  /** sha256 of passwords that passed scrypt, so a reconnecting device costs no new scrypt. */
  private readonly verified = new Map<string, string>();
  /** File profiles plus one per discovered device; rebuilt when discovered devices change. */
  private merged: ReadonlyMap<string, DeviceProfile> | undefined;
  private mergedFrom: ReadonlyMap<string, DeviceProfile> | undefined;

  constructor(private readonly deps: { db: SluiceDatabase; clock: Clock; profiles: () => ReadonlyMap<string, DeviceProfile> }) {
    const rows = deps.db.raw.prepare('SELECT * FROM devices').all() as Row[];
    for (const row of rows) this.byId.set(row.id, { record: toRecord(row), hash: row.password_hash });
  }

  get(id: string): DeviceRecord | undefined {
    return this.byId.get(id)?.record;
  }

  /** The profiles files declare, plus the one each discovered device carries (named `<convention>/<id>`). */
  profiles(): ReadonlyMap<string, DeviceProfile> {
    const files = this.deps.profiles();
    if (this.merged && this.mergedFrom === files) return this.merged;
    const all = new Map(files);
    for (const { record } of this.byId.values()) {
      const p = discoveredProfile(record);
      if (p) all.set(p.name, p);
    }
    this.merged = all;
    this.mergedFrom = files;
    return all;
  }

  list(): DeviceRecord[] {
    return [...this.byId.values()].map((d) => d.record).sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * The registered device behind a bridge that a topic below the bridge's base belongs to:
   * the longest source that equals the topic or is followed by `/` (Zigbee2MQTT friendly names
   * may contain `/`). Returns the rest of the topic after the source.
   */
  behindBridge(bridgeId: string, below: string): { record: DeviceRecord; subtopic: string } | undefined {
    let best: DeviceRecord | undefined;
    for (const { record } of this.byId.values()) {
      if (record.via !== bridgeId || record.source === null || record.discovered) continue;
      const s = record.source;
      if ((below === s || below.startsWith(`${s}/`)) && (!best || s.length > best.source!.length)) best = record;
    }
    return best ? { record: best, subtopic: below.slice(best.source!.length + 1) } : undefined;
  }

  /** Registers a device and returns its password; the password is shown once and stored only hashed. */
  async add(input: NewDevice): Promise<{ record: DeviceRecord; password: string | null }> {
    const role = input.role ?? 'device';
    if (!DEVICE_ID.test(input.id)) {
      throw new SluiceError('SLUICE_ERR_DEVICE_ID_INVALID', `invalid device id "${input.id}": use 1–64 of a-z, 0-9, - and _, starting with a letter or digit`);
    }
    if (this.byId.has(input.id)) throw new SluiceError('SLUICE_ERR_DEVICE_EXISTS', `device "${input.id}" is already registered`);
    const profile = input.profile ?? null;
    if (role === 'device' && !profile) throw new SluiceError('SLUICE_ERR_USAGE', `a device needs --profile (one of: ${this.profileNames()})`);
    if (role === 'bridge' && profile !== null && !isConvention(profile)) {
      throw new SluiceError('SLUICE_ERR_PROFILE_UNKNOWN', `unknown bridge profile "${profile}"; bridge profiles: ${CONVENTION_NAMES.join(', ')}`);
    }
    if (role !== 'bridge' && profile && !this.deps.profiles().has(profile)) {
      throw new SluiceError('SLUICE_ERR_PROFILE_UNKNOWN', `unknown profile "${profile}"; known profiles: ${this.profileNames()}`);
    }
    // A convention's usual base topic unless told otherwise; Tasmota's is '' (no base).
    const baseTopic = role === 'bridge' ? (input.baseTopic ?? (isConvention(profile) ? conventions[profile].defaultBaseTopic : input.id)) : null;
    if (baseTopic !== null && baseTopic !== '' && !/^[^#+/$][^#+]*$/.test(baseTopic)) {
      throw new SluiceError('SLUICE_ERR_USAGE', `invalid base topic "${baseTopic}": no wildcards, not starting with / or $`);
    }
    const via = input.via ?? null;
    const source = via === null ? null : (input.source ?? input.id);
    if (via !== null) {
      const bridge = this.byId.get(via)?.record;
      if (!bridge || bridge.role !== 'bridge') throw new SluiceError('SLUICE_ERR_USAGE', `--via must name a registered bridge; "${via}" is not one`);
      if (role !== 'device') throw new SluiceError('SLUICE_ERR_USAGE', 'only a device can sit behind a bridge');
      if (!/^[^#+$][^#+]*$/.test(source!) || source!.startsWith('/') || source!.endsWith('/')) {
        throw new SluiceError('SLUICE_ERR_USAGE', `invalid --source "${source}": the device's name on the bridge, without wildcards or leading/trailing /`);
      }
      if ([...this.byId.values()].some((d) => d.record.via === via && d.record.source === source)) {
        throw new SluiceError('SLUICE_ERR_DEVICE_EXISTS', `bridge "${via}" already has a device registered as "${source}"`);
      }
    } else if (input.source) {
      throw new SluiceError('SLUICE_ERR_USAGE', '--source needs --via BRIDGE');
    }
    // A device behind a bridge never logs in: the bridge publishes for it.
    const password = via === null ? generatePassword() : null;
    const hash = password === null ? NO_LOGIN : await hashDevicePassword(password);
    const record: DeviceRecord = {
      id: input.id,
      role,
      profile,
      baseTopic,
      simulated: input.simulated ?? false,
      createdAt: this.deps.clock.now(),
      via,
      source,
      name: null,
      room: null,
      kind: null,
      discovered: false,
      metrics: null,
    };
    // Re-check after the await: another add may have won meanwhile.
    if (this.byId.has(input.id)) throw new SluiceError('SLUICE_ERR_DEVICE_EXISTS', `device "${input.id}" is already registered`);
    this.deps.db.raw
      .prepare('INSERT INTO devices (id, role, profile, base_topic, simulated, password_hash, created_at, via, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(record.id, role, profile, baseTopic, record.simulated ? 1 : 0, hash, record.createdAt, via, source);
    this.byId.set(record.id, { record, hash });
    return { record, password };
  }

  async passwd(id: string): Promise<{ record: DeviceRecord; password: string }> {
    const entry = this.require(id);
    if (entry.record.via !== null) throw new SluiceError('SLUICE_ERR_USAGE', `"${id}" sits behind bridge "${entry.record.via}" and has no password of its own`);
    const password = generatePassword();
    const hash = await hashDevicePassword(password);
    this.deps.db.raw.prepare('UPDATE devices SET password_hash = ? WHERE id = ?').run(hash, id);
    entry.hash = hash;
    this.verified.delete(id);
    return { record: entry.record, password };
  }

  remove(id: string): DeviceRecord {
    const entry = this.require(id);
    const behind = [...this.byId.values()].filter((d) => d.record.via === id && !d.record.discovered).map((d) => d.record.id);
    if (behind.length > 0) throw new SluiceError('SLUICE_ERR_USAGE', `bridge "${id}" still has devices behind it (${behind.join(', ')}); remove them first`);
    // A bridge's discovered devices go with it: they were its announcements, not the household's.
    const discovered = [...this.byId.values()].filter((d) => d.record.via === id && d.record.discovered).map((d) => d.record.id);
    this.deps.db.raw.transaction(() => {
      this.deps.db.raw.prepare('DELETE FROM devices WHERE id = ?').run(id);
      for (const d of discovered) this.deps.db.raw.prepare('DELETE FROM devices WHERE id = ?').run(d);
      if (entry.record.role === 'bridge') {
        this.deps.db.raw.prepare('DELETE FROM bridge_state WHERE bridge_id = ?').run(id);
        this.deps.db.raw.prepare('DELETE FROM bridge_ignored WHERE bridge_id = ?').run(id);
      }
    })();
    this.byId.delete(id);
    for (const d of discovered) this.byId.delete(d);
    this.verified.delete(id);
    if (entry.record.discovered || discovered.length > 0) this.merged = undefined;
    return entry.record;
  }

  /** The device a bridge discovered under this key, if registered. */
  discoveredBy(bridgeId: string, key: string): DeviceRecord | undefined {
    for (const { record } of this.byId.values()) if (record.discovered && record.via === bridgeId && record.source === key) return record;
    return undefined;
  }

  isIgnored(bridgeId: string, key: string): boolean {
    return this.deps.db.raw.prepare('SELECT 1 FROM bridge_ignored WHERE bridge_id = ? AND key = ?').get(bridgeId, key) !== undefined;
  }

  /**
   * Registers (or updates) what a bridge announced: a new device gets a stable id from the
   * bridge and its key; an existing one keeps the household's name, room and kind, and takes
   * the announced metrics. Ignored keys are skipped. Returns the devices added.
   */
  learn(bridge: DeviceRecord, devices: readonly DiscoveredDevice[]): DeviceRecord[] {
    const convention = bridge.profile ?? 'bridge';
    const added: DeviceRecord[] = [];
    const insert = this.deps.db.raw.prepare(
      'INSERT INTO devices (id, role, profile, base_topic, simulated, password_hash, created_at, via, source, name, room, kind, discovered, metrics) VALUES (?, ?, ?, NULL, 0, ?, ?, ?, ?, ?, NULL, ?, 1, ?)',
    );
    const update = this.deps.db.raw.prepare('UPDATE devices SET metrics = ?, kind = COALESCE(kind, ?) WHERE id = ?');
    const changes: Array<() => void> = [];
    this.deps.db.raw.transaction(() => {
      for (const d of devices) {
        if (this.isIgnored(bridge.id, d.key)) continue;
        const existing = this.discoveredBy(bridge.id, d.key);
        const metrics = JSON.stringify(d.metrics);
        if (existing) {
          if (JSON.stringify(existing.metrics) === metrics) continue;
          update.run(metrics, d.kind, existing.id);
          changes.push(() => Object.assign(this.byId.get(existing.id)!.record, { metrics: d.metrics, kind: existing.kind ?? d.kind }));
          continue;
        }
        let id = discoveredId(bridge.id, d.key);
        for (let n = 2; this.byId.has(id); n++) id = discoveredId(bridge.id, `${d.key}-${n}`);
        const record: DeviceRecord = {
          id,
          role: 'device',
          profile: `${convention}/${id}`,
          baseTopic: null,
          simulated: false,
          createdAt: this.deps.clock.now(),
          via: bridge.id,
          source: d.key,
          name: d.name,
          room: null,
          kind: d.kind,
          discovered: true,
          metrics: d.metrics,
        };
        insert.run(id, 'device', record.profile, NO_LOGIN, record.createdAt, bridge.id, d.key, d.name, d.kind, metrics);
        this.byId.set(id, { record, hash: NO_LOGIN });
        added.push(record);
      }
    })();
    for (const c of changes) c();
    if (added.length > 0 || changes.length > 0) this.merged = undefined;
    return added;
  }

  /** Forgets a discovered device the bridge no longer has (its readings stay until erased). */
  forget(bridgeId: string, key: string): DeviceRecord | undefined {
    const record = this.discoveredBy(bridgeId, key);
    if (record) this.remove(record.id);
    return record;
  }

  /** `devices ignore`: a discovered device is removed and its key remembered, so nothing of it is stored again. */
  ignore(id: string): DeviceRecord {
    const { record } = this.require(id);
    if (!record.discovered || record.via === null || record.source === null) throw new SluiceError('SLUICE_ERR_USAGE', `"${id}" was not discovered by a bridge; remove it with devices remove`);
    this.deps.db.raw.prepare('INSERT OR IGNORE INTO bridge_ignored (bridge_id, key) VALUES (?, ?)').run(record.via, record.source);
    this.remove(id);
    return record;
  }

  /** The household's name, room or kind for a device; only the display changes, never the id. */
  describe(id: string, change: { name?: string | null; room?: string | null; kind?: string | null }): DeviceRecord {
    const entry = this.require(id);
    if (change.kind !== undefined && !entry.record.discovered) {
      throw new SluiceError('SLUICE_ERR_USAGE', `"${id}" takes its kind from profile ${entry.record.profile ?? '(none)'}; only a discovered device's kind can be set`);
    }
    if (change.kind !== undefined && change.kind !== null && !/^[a-z][a-z0-9_-]*$/.test(change.kind)) throw new SluiceError('SLUICE_ERR_USAGE', `invalid kind "${change.kind}": a-z, 0-9, _ and -`);
    const next = { ...entry.record };
    if (change.name !== undefined) next.name = change.name;
    if (change.room !== undefined) next.room = change.room;
    if (change.kind !== undefined) next.kind = change.kind;
    this.deps.db.raw.prepare('UPDATE devices SET name = ?, room = ?, kind = ? WHERE id = ?').run(next.name ?? null, next.room ?? null, next.kind ?? null, id);
    entry.record = next;
    if (change.kind !== undefined) this.merged = undefined;
    return next;
  }

  /** What a bridge's convention learned (JSON), so its devices' messages are read right after a restart. */
  bridgeState(bridgeId: string): string | undefined {
    const row = this.deps.db.raw.prepare('SELECT state FROM bridge_state WHERE bridge_id = ?').get(bridgeId) as { state: string } | undefined;
    return row?.state;
  }

  saveBridgeState(bridgeId: string, state: string): void {
    this.deps.db.raw
      .prepare('INSERT INTO bridge_state (bridge_id, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (bridge_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at')
      .run(bridgeId, state, this.deps.clock.now());
  }

  /** The device whose credentials these are, or null. */
  async authenticate(username: string, password: string): Promise<DeviceRecord | null> {
    const entry = this.byId.get(username);
    if (!entry) return null;
    const digest = createHash('sha256').update(entry.hash).update('\0').update(password).digest('base64');
    if (this.verified.get(username) === digest) return entry.record;
    if (!(await verifyPassword(password, entry.hash))) return null;
    // The entry may have been removed or re-keyed during the await.
    if (this.byId.get(username) !== entry) return null;
    // A hash from before the cheaper device cost costs 4 MiB per check in every login storm: redo it once, now the password is known.
    if (isOutdatedDeviceHash(entry.hash)) {
      const hash = await hashDevicePassword(password);
      if (this.byId.get(username) !== entry) return null;
      try {
        this.deps.db.raw.prepare('UPDATE devices SET password_hash = ? WHERE id = ?').run(hash, username);
        entry.hash = hash;
        this.verified.set(username, createHash('sha256').update(hash).update('\0').update(password).digest('base64'));
        return entry.record;
      } catch {
        // A full or read-only disk must not refuse a good login: the old hash stays, and is redone at a later login.
      }
    }
    this.verified.set(username, digest);
    return entry.record;
  }

  private require(id: string): { record: DeviceRecord; hash: string } {
    const entry = this.byId.get(id);
    if (!entry) throw new SluiceError('SLUICE_ERR_DEVICE_UNKNOWN', `no device "${id}" is registered`);
    return entry;
  }

  private profileNames(): string {
    return [...this.deps.profiles().keys()].join(', ') || '(none found)';
  }
}

function toRecord(row: Row): DeviceRecord {
  return {
    id: row.id,
    role: row.role,
    profile: row.profile,
    baseTopic: row.base_topic,
    simulated: row.simulated === 1,
    createdAt: row.created_at,
    via: row.via,
    source: row.source,
    name: row.name,
    room: row.room,
    kind: row.kind,
    discovered: row.discovered === 1,
    metrics: row.metrics === null ? null : (JSON.parse(row.metrics) as DiscoveredMetric[]),
  };
}
