package dev.deadlockd.examples;

import dev.deadlockd.DLock;
import dev.deadlockd.DeadlockException;
import dev.deadlockd.Deadlockd;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Five philosophers, five forks ({@code dd.lock}): each takes the left fork, then the right. Once all five hold
 * their left fork nobody can go on; the daemon sees the cycle and one philosopher's {@code lock()} throws a
 * {@link DeadlockException}. It puts its fork down, the others eat, and it tries again.
 *
 * <p>Run it against {@code npm start}'s daemon: {@code mvn -q test-compile exec:exec@dining-philosophers} (in
 * client-sdk/java); {@code -Dphilosophers=50} for more.
 */
public final class DiningPhilosophers {
  private DiningPhilosophers() {}

  public static void main(String[] args) throws Exception {
    int n = Integer.getInteger("philosophers", 5);
    try (Deadlockd dd = ExampleSupport.connect("dining-philosophers")) {
      List<DLock> forks = new ArrayList<>();
      for (int i = 0; i < n; i++) forks.add(dd.lock("fork-" + i));
      // everyone holds the left fork before anyone reaches for the right one: the deadlock, every time
      CyclicBarrier allHoldLeft = new CyclicBarrier(n);
      AtomicInteger victims = new AtomicInteger();
      AtomicInteger ate = new AtomicInteger();
      long t0 = System.nanoTime();
      List<Thread> philosophers = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        DLock left = forks.get(i);
        DLock right = forks.get((i + 1) % n);
        Thread t = new Thread(() -> {
          String me = Thread.currentThread().getName();
          boolean first = true;
          for (;;) {
            left.lock();
            try {
              if (first) allHoldLeft.await(30, TimeUnit.SECONDS);
              first = false;
              right.lock();
              try {
                ate.incrementAndGet();
                System.out.println(me + " eats");
                return;
              } finally {
                right.unlock();
              }
            } catch (DeadlockException e) {
              victims.incrementAndGet();
              System.out.println(me + ": DeadlockException " + e.deadlockId() + " after " + (System.nanoTime() - t0) / 1_000_000
                  + " ms: puts the left fork down and tries again\n" + NestedGetConnection.indent(e.reportText()));
            } catch (Exception e) {
              throw new IllegalStateException(e);
            } finally {
              left.unlock();
            }
          }
        }, "philosopher-" + i);
        philosophers.add(t);
        t.start();
      }
      for (Thread t : philosophers) t.join();
      System.out.println("\nresult: " + ate.get() + " of " + n + " philosophers ate, " + victims.get() + " DeadlockException"
          + (victims.get() == 1 ? "" : "s") + " in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
      System.out.println("RESULT ate=" + ate.get() + " deadlockExceptions=" + victims.get());
      if (ate.get() != n || victims.get() != 1) System.exit(1);
    }
  }
}
