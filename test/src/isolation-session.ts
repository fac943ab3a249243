// PostgreSQL's isolation tester, in small: a session is one task that runs the steps it is
// given, one after the other (a blocked step blocks its session, as a blocked backend does),
// and `commit` releases everything it holds and ends the task. `issue()` says whether a step
// completed at once or is waiting, without any timer: a local primitive grants an acquire that
// can be granted before the next macrotask, so a step still pending after one is waiting.
import { DeadlockError, type Client, type Held } from '@deadlockd/client';

type Outcome = 'completed' | DeadlockError;

export interface Step {
  label: string;
  settled: boolean;
  outcome: Promise<Outcome>;
}

const macrotask = () => new Promise<void>((r) => setImmediate(r));

export class Session {
  private readonly cmds: (() => Promise<boolean>)[] = [];
  private wake: (() => void) | undefined;
  readonly held: Held[] = [];
  readonly ended: Promise<void>;

  constructor(
    readonly dd: Client,
    readonly name: string,
  ) {
    this.ended = dd.task(name, async () => {
      for (;;) {
        while (this.cmds.length === 0) await new Promise<void>((r) => (this.wake = r));
        if (await this.cmds.shift()!()) return;
      }
    });
  }

  private push(cmd: () => Promise<boolean>): void {
    this.cmds.push(cmd);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Runs `body` as the session's next step; resolves once it is known whether it waits. */
  async issue(label: string, body: (s: Session) => Promise<void>): Promise<Step> {
    const step: Step = { label, settled: false, outcome: undefined as unknown as Promise<Outcome> };
    step.outcome = new Promise<Outcome>((resolve, reject) => {
      this.push(async () => {
        try {
          await body(this);
          resolve('completed');
        } catch (e) {
          // an error aborts the transaction: PostgreSQL releases its locks at once
          if (e instanceof DeadlockError) {
            for (const h of this.held.splice(0).reverse()) h.release();
            resolve(e);
          } else reject(e);
        } finally {
          step.settled = true;
        }
        return false;
      });
    });
    await macrotask();
    await macrotask();
    return step;
  }

  /** COMMIT: release everything, end the task. */
  async commit(): Promise<void> {
    this.push(async () => {
      for (const h of this.held.splice(0).reverse()) h.release();
      return true;
    });
    await this.ended;
  }
}
