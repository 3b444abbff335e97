import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// scrypt cost of a device password: N=2^10, r=8 — 1 MiB and ~4 ms (17 ms on a busy 2-core
// box) per check. Device passwords are 192 random bits, so their strength is the randomness,
// not the KDF's cost; what the cost buys here is only memory and time in a login storm, when
// every device reconnects after a restart (issue 15: at N=2^12, two checks at once were 8 MiB of
// the 200-device peak RSS, and 200 logins took ~9 s of CPU). Stored hashes carry their own
// parameters, so older, costlier hashes still verify.
const DEVICE_COST = { N: 1_024, r: 8, p: 1 } as const;
// The household's web password is chosen by a person, so it keeps the costlier KDF (4 MiB).
const HOUSEHOLD_COST = { N: 4_096, r: 8, p: 1 } as const;
const KEYLEN = 32;

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A fresh random password for a device: 24 bytes, base64url (32 characters). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Hashes a password a person chose (the household's) as `scrypt$N$r$p$salt$hash` (base64url parts). */
export function hashPassword(password: string): Promise<string> {
  return hashWith(password, HOUSEHOLD_COST);
}

/** Hashes a generated device password (192 random bits), at the cheaper cost a login storm needs. */
export function hashDevicePassword(password: string): Promise<string> {
  return hashWith(password, DEVICE_COST);
}

async function hashWith(password: string, cost: { N: number; r: number; p: number }): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, cost.N, cost.r, cost.p);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(password, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** True when a stored device hash was made at another cost than today's (rehash it at the next good login). */
export function isOutdatedDeviceHash(stored: string): boolean {
  const [alg, n, r, p] = stored.split('$');
  return alg === 'scrypt' && (Number(n) !== DEVICE_COST.N || Number(r) !== DEVICE_COST.r || Number(p) !== DEVICE_COST.p);
}
