// token → namespace, compared in constant time. Used by the auth plugin
// (HTTP) and the Session (`hello.token` on the SDK stream).
import { createHash, timingSafeEqual } from 'node:crypto';

/** Where everything lives when auth is off. */
export const DEFAULT_NAMESPACE = 'default';

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Two secrets compared in constant time (hashed first, so their lengths say nothing either). */
export function secretEquals(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/**
 * token → namespace, looked up in constant time: the presented token is
 * hashed (fixed length) and compared with every configured token's hash with
 * timingSafeEqual, without stopping at a match, so the time taken says
 * nothing about how much of a token was right or which entry matched.
 */
export class TokenTable {
  private readonly entries: { digest: Buffer; namespace: string }[];

  constructor(tokens: Readonly<Record<string, string>>) {
    this.entries = Object.entries(tokens).map(([token, namespace]) => ({ digest: sha256(token), namespace }));
  }

  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** The namespace of `token`; null when auth is on and the token is missing or unknown. */
  namespaceOf(token: string | undefined): string | null {
    if (!this.enabled) return DEFAULT_NAMESPACE;
    if (token === undefined || token === '') return null;
    const digest = sha256(token);
    let found: string | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(e.digest, digest)) found = e.namespace;
    }
    return found;
  }

  /** Distinct namespaces the tokens name (for the start-up log). */
  namespaces(): string[] {
    return [...new Set(this.entries.map((e) => e.namespace))].sort();
  }
}

