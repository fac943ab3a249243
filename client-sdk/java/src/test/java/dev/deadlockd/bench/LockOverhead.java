package dev.deadlockd.bench;

import dev.deadlockd.DLock;
import dev.deadlockd.Deadlockd;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The Java SDK's uncontended cost, for {@code npm run bench} (bench/src/java-lock.ts): {@code dd.lock(...)}
 * lock/unlock against a {@link ReentrantLock}'s, side by side in one JVM, connected to a real daemon.
 *
 * <p>Warm-up rounds first (the JIT compiles both loops), then many short alternating rounds of each (the order
 * flips every round, so a slow patch of a loaded machine hits both). The cost of each is its fastest round, the
 * least disturbed one (on a shared machine a round that a time slice or a neighbour's cache traffic hits is several
 * times slower, and that is the machine, not the lock); the medians are printed too. Plus the events the SDK sent
 * for all those acquires (goal: none). Each loop has its own method with the concrete type, so neither pays for an
 * interface call the other does not.
 *
 * <p>{@code java -cp ... dev.deadlockd.bench.LockOverhead <daemon ws url> [ops per round] [rounds]}; prints one
 * JSON line.
 */
public final class LockOverhead {
  /** written in each critical section so the loops cannot be folded away */
  private static long sink;

  private LockOverhead() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: LockOverhead <daemon ws url> [ops per round] [rounds]");
      System.exit(2);
    }
    int ops = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 101;
    try (Deadlockd dd = Deadlockd.connect(args[0], "java-lock-bench")) {
      boolean connected = dd.connected();
      DLock sdk = dd.lock("bench-lock");
      ReentrantLock jdk = new ReentrantLock();
      for (int i = 0; i < 30; i++) {
        runSdk(sdk, ops);
        runJdk(jdk, ops);
      }
      long eventsBefore = dd.eventsSent();
      double[] sdkNs = new double[rounds];
      double[] jdkNs = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        if (r % 2 == 0) {
          sdkNs[r] = runSdk(sdk, ops);
          jdkNs[r] = runJdk(jdk, ops);
        } else {
          jdkNs[r] = runJdk(jdk, ops);
          sdkNs[r] = runSdk(sdk, ops);
        }
      }
      // the link thread flushes within flushIntervalMs: give anything logged the chance to show up in the count
      Thread.sleep(50);
      long events = dd.eventsSent() - eventsBefore;
      double s = Arrays.stream(sdkNs).min().orElseThrow();
      double j = Arrays.stream(jdkNs).min().orElseThrow();
      long total = (long) ops * rounds;
      System.out.println("{\"connected\":" + connected + ",\"opsPerRound\":" + ops + ",\"rounds\":" + rounds
          + ",\"nsPerOp\":{\"sdk\":" + s + ",\"reentrantLock\":" + j + "},\"ratio\":" + (s / j)
          + ",\"medianNsPerOp\":{\"sdk\":" + median(sdkNs) + ",\"reentrantLock\":" + median(jdkNs) + "}"
          + ",\"eventsSent\":" + events + ",\"eventsPer1000Ops\":" + (events * 1000.0 / total) + ",\"sink\":" + (sink & 1) + "}");
    }
  }

  // runSdk and runJdk are the same loop on purpose: one method taking a Lock would make the call
  // site bimorphic, and the JIT would then inline neither lock's fast path as it does in an app.

  /** ns per lock/unlock pair of the SDK's lock */
  private static double runSdk(DLock l, int ops) {
    long t0 = System.nanoTime();
    for (int i = 0; i < ops; i++) {
      l.lock();
      try {
        sink++;
      } finally {
        l.unlock();
      }
    }
    return (System.nanoTime() - t0) / (double) ops;
  }

  /** ns per lock/unlock pair of the JDK's lock */
  private static double runJdk(ReentrantLock l, int ops) {
    long t0 = System.nanoTime();
    for (int i = 0; i < ops; i++) {
      l.lock();
      try {
        sink++;
      } finally {
        l.unlock();
      }
    }
    return (System.nanoTime() - t0) / (double) ops;
  }

  private static double median(double[] xs) {
    double[] c = xs.clone();
    Arrays.sort(c);
    return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
  }
}
