import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SluiceError } from '../core/index.js';

/** First bytes of every Sluice backup, then one byte of format version and one of kind. */
const MAGIC = Buffer.from('SLUICEBK');
const FORMAT = 1;
const PLAIN = 0;
const ENCRYPTED = 1;
// scrypt N=2^15, r=8, p=1: 32 MiB and about a second on a Raspberry Pi 4, once per backup.
const SCRYPT = { N: 32_768, r: 8, p: 1 } as const;
const SCRYPT_MAXMEM = 64 * 1024 * 1024;

/** One file in the archive: where it goes (`data/…`, `policies/…`, `profiles/…`, `config/…`), its size and digest. */
export interface ArchiveFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** The archive's table of contents, stored (encrypted, when a passphrase is given) before the files. */
export interface BackupManifest {
  format: 1;
  created_at: string;
  config_only: boolean;
  /** Highest migration applied per module in the copied database. */
  schema: Record<string, number>;
  ledger_head: { seq: number; hash: string } | null;
  readings: number;
  files: ArchiveFile[];
}

/** Packs the manifest and the files: magic, version, kind, then gzip(manifest length, manifest JSON, file bytes in manifest order), AES-256-GCM sealed when a passphrase is given. */
export async function packArchive(meta: Omit<BackupManifest, 'files' | 'format'>, files: Array<{ path: string; data: Buffer }>, passphrase: string | undefined): Promise<Buffer> {
  const manifest: BackupManifest = { format: FORMAT, ...meta, files: files.map((f) => ({ path: f.path, bytes: f.data.length, sha256: sha256(f.data) })) };
  const json = Buffer.from(JSON.stringify(manifest));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  const body = gzipSync(Buffer.concat([length, json, ...files.map((f) => f.data)]));
  if (passphrase === undefined) return Buffer.concat([MAGIC, Buffer.from([FORMAT, PLAIN]), body]);
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const header = Buffer.from(JSON.stringify({ kdf: 'scrypt', ...SCRYPT, salt: salt.toString('base64'), iv: iv.toString('base64'), cipher: 'aes-256-gcm' }));
  const headerLength = Buffer.alloc(2);
  headerLength.writeUInt16BE(header.length);
  const prefix = Buffer.concat([MAGIC, Buffer.from([FORMAT, ENCRYPTED]), headerLength, header]);
  const cipher = createCipheriv('aes-256-gcm', await deriveKey(passphrase, salt, SCRYPT), iv);
  // The clear prefix (kdf parameters) is authenticated too: changing it fails the tag.
  cipher.setAAD(prefix);
  const sealed = Buffer.concat([cipher.update(body), cipher.final()]);
  return Buffer.concat([prefix, sealed, cipher.getAuthTag()]);
}

/** Whether the archive is sealed with a passphrase (read from its clear prefix). */
export function isEncrypted(archive: Buffer): boolean {
  checkMagic(archive);
  return archive[MAGIC.length + 1] === ENCRYPTED;
}

/** Opens an archive: checks magic, tag and every file's digest; wrong passphrase and damage are typed errors. */
export async function unpackArchive(archive: Buffer, passphrase: string | undefined): Promise<{ manifest: BackupManifest; files: Map<string, Buffer> }> {
  let body: Buffer;
  if (isEncrypted(archive)) {
    if (passphrase === undefined) throw new SluiceError('SLUICE_ERR_BACKUP_PASSPHRASE', 'this backup is encrypted; give --passphrase-env VAR naming the variable that holds its passphrase');
    const at = MAGIC.length + 2;
    const headerLength = archive.readUInt16BE(at);
    const prefix = archive.subarray(0, at + 2 + headerLength);
    let header: { N: number; r: number; p: number; salt: string; iv: string };
    try {
      header = JSON.parse(archive.subarray(at + 2, at + 2 + headerLength).toString('utf8')) as typeof header;
    } catch {
      throw invalid('its encryption header is damaged');
    }
    const decipher = createDecipheriv('aes-256-gcm', await deriveKey(passphrase, Buffer.from(header.salt, 'base64'), header), Buffer.from(header.iv, 'base64'));
    decipher.setAAD(prefix);
    decipher.setAuthTag(archive.subarray(archive.length - 16));
    try {
      body = Buffer.concat([decipher.update(archive.subarray(prefix.length, archive.length - 16)), decipher.final()]);
    } catch {
      throw new SluiceError('SLUICE_ERR_BACKUP_PASSPHRASE', 'the passphrase does not open this backup (or the file was altered)');
    }
  } else {
    body = archive.subarray(MAGIC.length + 2);
  }
  let container: Buffer;
  try {
    container = gunzipSync(body);
  } catch {
    throw invalid('its contents are damaged (not gzip)');
  }
  const manifestLength = container.readUInt32BE(0);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(container.subarray(4, 4 + manifestLength).toString('utf8')) as BackupManifest;
  } catch {
    throw invalid('its manifest is damaged');
  }
  if (manifest.format !== FORMAT) throw invalid(`it is format ${String(manifest.format)}; this Sluice reads format ${FORMAT}`);
  const files = new Map<string, Buffer>();
  let offset = 4 + manifestLength;
  for (const f of manifest.files) {
    const data = container.subarray(offset, offset + f.bytes);
    offset += f.bytes;
    if (data.length !== f.bytes || sha256(data) !== f.sha256) throw invalid(`${f.path} does not match its digest`);
    files.set(f.path, data);
  }
  return { manifest, files };
}

function checkMagic(archive: Buffer): void {
  if (archive.length < MAGIC.length + 2 || !archive.subarray(0, MAGIC.length).equals(MAGIC)) throw invalid('it is not a Sluice backup');
}

function invalid(why: string): SluiceError {
  return new SluiceError('SLUICE_ERR_BACKUP_INVALID', `the backup cannot be read: ${why}`);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function deriveKey(passphrase: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(passphrase, salt, 32, { N: params.N, r: params.r, p: params.p, maxmem: SCRYPT_MAXMEM }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}
