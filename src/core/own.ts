/**
 * A record's own value for a key from outside (a payload, a YAML file), or undefined: plain
 * indexing would answer `constructor`, `toString` or `__proto__` from Object.prototype.
 */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Sets a key from outside as an own property; plain assignment of `__proto__` would change the prototype. */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
