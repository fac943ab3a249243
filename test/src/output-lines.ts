// Collects a child's stdout/stderr as text (for failure messages) and lets a
// caller wait for the first stdout line matching a pattern.
import type { Readable } from 'node:stream';

export class OutputCollector {
  private out = '';
  private err = '';
  private readonly lineWaiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  private partial = '';

  constructor(stdout: Readable | null, stderr: Readable | null) {
    stdout?.setEncoding('utf8');
    stderr?.setEncoding('utf8');
    stdout?.on('data', (chunk: string) => {
      this.out += chunk;
      this.partial += chunk;
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        const line = this.partial.slice(0, nl).replace(/\r$/, '');
        this.partial = this.partial.slice(nl + 1);
        this.onLine(line);
      }
    });
    stderr?.on('data', (chunk: string) => {
      this.err += chunk;
    });
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** The last `max` characters of both streams, for an assertion message. */
  tail(max = 4000): string {
    const both = `--- stdout ---\n${this.out}\n--- stderr ---\n${this.err}`;
    return both.length > max ? `…${both.slice(-max)}` : both;
  }

  /** Resolves with the match of the first stdout line (past or future) that matches `re`. */
  waitForLine(re: RegExp): Promise<RegExpMatchArray> {
    for (const line of this.out.split('\n')) {
      const m = line.match(re);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve) => this.lineWaiters.push({ re, resolve }));
  }

  private onLine(line: string): void {
    for (let i = this.lineWaiters.length - 1; i >= 0; i--) {
      const w = this.lineWaiters[i]!;
      const m = line.match(w.re);
      if (m) {
        this.lineWaiters.splice(i, 1);
        w.resolve(m);
      }
    }
  }
}
