// The backends that SDKs reported (the `pg` adapter's `connection` and `statement` resources,
// whose declaration names the backend), for one watched database.
import type { ResourceEvent } from '@deadlockd/proto';
import type { ClientId } from '../engine/types.js';
import type { KnownBackend } from './state.js';

export interface DatabaseIdentity {
  database: string;
  /** '' when unknown (then pid and database alone match) */
  system: string;
}

interface Entry {
  client: ClientId;
  pid: number;
  role: 'connection' | 'statement';
}

export class ReportedBackends {
  /** resource name → what it stands for */
  private readonly byName = new Map<string, Entry>();
  private readonly byPid = new Map<number, { connection?: string; statement?: string; client: ClientId }>();

  constructor(
    private readonly db: DatabaseIdentity,
    /** the service of a client, if it is still registered */
    private readonly serviceOf: (client: ClientId) => string | undefined,
    /** false once the shared resource left the namespace (its client is gone) */
    private readonly exists: (resource: string) => boolean,
  ) {}

  declared(client: ClientId, e: ResourceEvent): void {
    const b = e.backend;
    if (!b) return;
    const old = this.byName.get(e.resource);
    if (old) this.forget(e.resource, old);
    if (b.database !== this.db.database || (b.system !== '' && this.db.system !== '' && b.system !== this.db.system)) return;
    this.byName.set(e.resource, { client, pid: b.pid, role: b.role });
    let p = this.byPid.get(b.pid);
    if (!p || p.client !== client) this.byPid.set(b.pid, (p = { client }));
    p[b.role] = e.resource;
  }

  /** The SDK-reported connection of this backend, if its client and resources are still there. */
  known(pid: number): KnownBackend | undefined {
    const p = this.byPid.get(pid);
    if (!p) return undefined;
    const service = this.serviceOf(p.client);
    const alive = (name: string | undefined) => (name !== undefined && this.exists(name) ? name : undefined);
    const connection = alive(p.connection);
    const statement = alive(p.statement);
    if (service === undefined || (connection === undefined && statement === undefined)) {
      if (p.connection) this.byName.delete(p.connection);
      if (p.statement) this.byName.delete(p.statement);
      this.byPid.delete(pid);
      return undefined;
    }
    return { service, connection, statement };
  }

  /** Which backend a `statement` resource stands for. */
  statementPid(resource: string): number | undefined {
    const e = this.byName.get(resource);
    return e?.role === 'statement' ? e.pid : undefined;
  }

  get size(): number {
    return this.byName.size;
  }

  private forget(name: string, e: Entry): void {
    this.byName.delete(name);
    const p = this.byPid.get(e.pid);
    if (p && p[e.role] === name) delete p[e.role];
    if (p && p.connection === undefined && p.statement === undefined) this.byPid.delete(e.pid);
  }
}
