import { createHash } from 'node:crypto';
import { SluiceError, type Clock, type Migration, type SluiceDatabase } from '../core/index.js';
import { generatePassword, hashPassword, verifyPassword } from './credentials.js';
import type { DeviceProfile } from './profile.js';

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
];

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
}

/** Registered devices and their credentials; the in-memory copy serves every MQTT packet. */
export class DeviceRegistry {
  private readonly byId = new Map<string, { record: DeviceRecord; hash: string }>();
  /** sha256 of passwords that passed scrypt, so a reconnecting device costs no new scrypt. */
  private readonly verified = new Map<string, string>();

  constructor(private readonly deps: { db: SluiceDatabase; clock: Clock; profiles: () => ReadonlyMap<string, DeviceProfile> }) {
    const rows = deps.db.raw.prepare('SELECT * FROM devices').all() as Row[];
    for (const row of rows) this.byId.set(row.id, { record: toRecord(row), hash: row.password_hash });
  }

  get(id: string): DeviceRecord | undefined {
    return this.byId.get(id)?.record;
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
      if (record.via !== bridgeId || record.source === null) continue;
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
    if (profile && !this.deps.profiles().has(profile)) {
      throw new SluiceError('SLUICE_ERR_PROFILE_UNKNOWN', `unknown profile "${profile}"; known profiles: ${this.profileNames()}`);
    }
    const baseTopic = role === 'bridge' ? (input.baseTopic ?? input.id) : null;
    if (baseTopic !== null && !/^[^#+/$][^#+]*$/.test(baseTopic)) {
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
    const hash = password === null ? NO_LOGIN : await hashPassword(password);
    const record: DeviceRecord = { id: input.id, role, profile, baseTopic, simulated: input.simulated ?? false, createdAt: this.deps.clock.now(), via, source };
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
    const hash = await hashPassword(password);
    this.deps.db.raw.prepare('UPDATE devices SET password_hash = ? WHERE id = ?').run(hash, id);
    entry.hash = hash;
    this.verified.delete(id);
    return { record: entry.record, password };
  }

  remove(id: string): DeviceRecord {
    const entry = this.require(id);
    const behind = [...this.byId.values()].filter((d) => d.record.via === id).map((d) => d.record.id);
    if (behind.length > 0) throw new SluiceError('SLUICE_ERR_USAGE', `bridge "${id}" still has devices behind it (${behind.join(', ')}); remove them first`);
    this.deps.db.raw.prepare('DELETE FROM devices WHERE id = ?').run(id);
    this.byId.delete(id);
    this.verified.delete(id);
    return entry.record;
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
  };
}
