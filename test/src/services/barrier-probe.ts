// Harness self-check: meets the other probes at `--rounds` barriers and
// prints {name, passed}. With `--crash-at <r>` it exits 3 at round r instead,
// so the test can see that the survivors' barrier breaks rather than hangs.
import { argValue, barrier, runMain } from '../service-kit.js';

runMain(async () => {
  const name = argValue('name');
  const rounds = Number(argValue('rounds'));
  const crashAt = process.argv.includes('--crash-at') ? Number(argValue('crash-at')) : -1;
  let passed = 0;
  for (let r = 0; r < rounds; r++) {
    if (r === crashAt) process.exit(3);
    await barrier(`round:${r}`);
    passed++;
  }
  return { name, passed };
});
