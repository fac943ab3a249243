package dev.deadlockd;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A fair counting semaphore (like {@link java.util.concurrent.Semaphore} with fairness) whose permits are a
 * counted resource of the daemon. A thread that holds permits and asks for more is a nested checkout: a hazard
 * from the first time, and with as many such threads as permits, a deadlock that one {@link DeadlockException}
 * resolves.
 */
public final class DSemaphore extends Res {
  private final int capacity;
  private int available;
  /** who holds how many; permits released by another thread come off the oldest hold */
  private final Map<Owner, Hold> held = new LinkedHashMap<>();
  private final boolean withSites;
  /** shown in reports (null: none), e.g. "hikari pool orders" */
  private final String label;

  DSemaphore(Deadlockd dd, String name, int permits) {
    this(dd, name, permits, false, null);
  }

  DSemaphore(Deadlockd dd, String name, int permits, boolean withSites, String label) {
    super(dd, name);
    this.label = label;
    if (permits < 1) throw new IllegalArgumentException("a semaphore has at least 1 permit");
    this.capacity = permits;
    this.available = permits;
    this.withSites = withSites;
  }

  @Override
  ObjectNode declaration() {
    // grants follow queue order (fifo), as the SDK's queue does
    ObjectNode d = JsonNodeFactory.instance.objectNode().put("type", "resource").put("resource", id).put("kind", "semaphore")
        .put("scope", "local").put("capacity", capacity).put("fifo", true);
    if (label != null) d.put("label", label);
    return d;
  }

  @Override
  boolean counted() {
    return true;
  }

  @Override
  Collection<Hold> holds() {
    return held.values();
  }

  @Override
  boolean fits(Owner o, int units, String mode) {
    return available >= units;
  }

  @Override
  Hold take(Owner o, int units, String mode) {
    available -= units;
    Hold h = held.get(o);
    if (h == null) {
      h = new Hold(o, this, units, null);
      held.put(o, h);
    } else {
      h.units += units;
    }
    return h;
  }

  @Override
  String nestedDetail(Owner o) {
    m.lock();
    try {
      Hold h = held.get(o);
      String first = h == null ? null : Sites.format(h.site);
      return first == null ? "" : "\nthe unit it holds was taken\n" + first;
    } finally {
      m.unlock();
    }
  }

  public int capacity() {
    return capacity;
  }

  public int availablePermits() {
    m.lock();
    try {
      return available;
    } finally {
      m.unlock();
    }
  }

  /** one permit; blocks until available; the victim of a deadlock gets a DeadlockException */
  public void acquire() throws InterruptedException {
    acquire(1);
  }

  public void acquire(int permits) throws InterruptedException {
    if (Thread.interrupted()) throw new InterruptedException();
    take(permits, -1, true);
  }

  public void acquireUninterruptibly() {
    try {
      take(1, -1, false);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  public boolean tryAcquire() {
    try {
      return take(1, 0, false);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  public boolean tryAcquire(long time, TimeUnit unit) throws InterruptedException {
    return tryAcquire(1, time, unit);
  }

  public boolean tryAcquire(int permits, long time, TimeUnit unit) throws InterruptedException {
    if (Thread.interrupted()) throw new InterruptedException();
    return take(permits, nanos(time, unit), true);
  }

  private boolean take(int units, long timeoutNanos, boolean interruptible) throws InterruptedException {
    if (units < 1 || units > capacity) throw new IllegalArgumentException("permits must be 1.." + capacity + ", not " + units);
    Owner me = dd.owner();
    if (me.heldCount > 0) dd.asked(me, this);
    StackTraceElement[] site = withSites ? dd.captureSite() : null;
    Hold h;
    m.lock();
    try {
      if (queue.isEmpty() && available >= units) {
        h = take(me, units, null);
      } else if (timeoutNanos == 0 || (h = await(me, units, null, timeoutNanos, interruptible)) == null) {
        return false;
      }
      if (h.site == null) h.site = site;
    } finally {
      m.unlock();
    }
    me.took(this);
    return true;
  }

  public void release() {
    release(1);
  }

  /** Give back permits of the current thread's hold (or, as the JDK allows, of another holder's: the oldest). */
  public void release(int permits) {
    Owner me = dd.owner();
    releaseFor(me, permits);
  }

  /** @hidden for adapters: give back permits taken by {@code owner} */
  void releaseFor(Owner owner, int permits) {
    m.lock();
    try {
      Hold h = held.get(owner);
      if (h == null && !held.isEmpty()) h = held.values().iterator().next();
      if (h != null) {
        int n = Math.min(permits, h.units);
        h.units -= n;
        released(h, n);
        if (h.units == 0) held.remove(h.owner);
      }
      available = Math.min(capacity, available + permits);
      grantWaiting();
    } finally {
      m.unlock();
    }
    if (owner == dd.owner()) owner.gave(this);
  }

  @Override
  public String toString() {
    return "DSemaphore[" + id + ", " + availablePermits() + "/" + capacity + " available]";
  }
}
