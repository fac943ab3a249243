// Runs the lock server as its own process (the harness starts it so the
// "distributed lock" really lives outside every service under test).
// Prints `lock-server listening on 127.0.0.1:<port>`; exits on SIGTERM/SIGINT.
import { startLockServer } from './lock-server.js';

const port = Number(process.argv[2] ?? 0);
const server = await startLockServer(port);
console.log(`lock-server listening on 127.0.0.1:${server.port}`);

const shutdown = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
