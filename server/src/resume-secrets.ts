// The secret each session is given in `welcome` (`resumeSecret`) and must show
// with `hello.resume` to take that session back. The session id alone is not
// enough: `GET /v1/clients` lists ids to anyone with the namespace's token, and
// whoever resumes a session can release its holds and receives its aborts.
// A new secret comes with every welcome, so a connection that was replaced
// cannot take the session back either. Compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export class ResumeSecrets {
  // keyed by the hub's client entry object: the secret goes when the client does
  private readonly secrets = new WeakMap<object, Buffer>();

  /** A fresh secret for this client; the previous one stops working. */
  issue(client: object): string {
    const secret = randomBytes(24).toString('base64url');
    this.secrets.set(client, digest(secret));
    return secret;
  }

  matches(client: object, presented: string | undefined): boolean {
    const expected = this.secrets.get(client);
    if (!expected || presented === undefined) return false;
    return timingSafeEqual(expected, digest(presented));
  }
}
