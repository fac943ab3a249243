// A TCP proxy in front of PostgreSQL that can hold one statement: once armed with a marker, the
// first client→server chunk containing it (and everything after it on that connection) is held
// until release(). Tests use it to force an interleaving between a decision the daemon made and
// the statement that carries it out (the cancel of a victim backend).
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface PgHoldProxy {
  port: number;
  /** hold the next chunk that contains `marker` */
  arm(marker: string): void;
  /** resolves once an armed chunk is being held */
  held(): Promise<void>;
  /** forward what is held, and pass everything from now on */
  release(): void;
  close(): Promise<void>;
}

export async function startPgHoldProxy(targetPort: number): Promise<PgHoldProxy> {
  const sockets = new Set<Socket>();
  let marker: string | null = null;
  let onHeld: (() => void) | null = null;
  let heldPromise: Promise<void> = new Promise((r) => (onHeld = r));
  const releases: Array<() => void> = [];
  const server: Server = createServer((down) => {
    const up = createConnection({ host: '127.0.0.1', port: targetPort });
    sockets.add(down).add(up);
    let holding: Buffer[] | null = null;
    down.on('data', (chunk: Buffer) => {
      if (holding !== null) return void holding.push(chunk);
      if (marker !== null && chunk.includes(marker)) {
        marker = null;
        holding = [chunk];
        releases.push(() => {
          for (const c of holding ?? []) up.write(c);
          holding = null;
        });
        onHeld?.();
        return;
      }
      up.write(chunk);
    });
    up.on('data', (chunk: Buffer) => down.write(chunk));
    const drop = () => {
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    down.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    arm: (m) => {
      marker = m;
      heldPromise = new Promise((r) => (onHeld = r));
    },
    held: () => heldPromise,
    release: () => {
      for (const r of releases.splice(0)) r();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
