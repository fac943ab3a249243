package dev.deadlockd;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A lock shared by every client of the namespace (a distributed lock, a database advisory lock) that the SDK
 * does not implement, only reports: {@link #acquire} reports a wait while {@code fn} takes the real lock and a hold
 * once it has it. If the daemon picks the wait as a deadlock's victim, {@link Abort#onAbort} callbacks run (cancel
 * the real request there, e.g. {@code Statement.cancel()}) and acquire throws {@link DeadlockException}.
 */
public final class SharedResource extends Res {
  /** the real acquire; {@code abort} lets it withdraw the real request when the wait is aborted */
  @FunctionalInterface
  public interface Acquirer<T> {
    T acquire(Abort abort) throws Exception;
  }

  /** the abort signal of one acquire */
  public static final class Abort {
    private final List<Runnable> callbacks = new CopyOnWriteArrayList<>();
    private volatile boolean aborted;

    /** run {@code r} (on the link thread) if the wait is aborted; at once if it already was */
    public void onAbort(Runnable r) {
      callbacks.add(r);
      if (aborted) r.run();
    }

    public boolean aborted() {
      return aborted;
    }

    void fire() {
      aborted = true;
      for (Runnable r : callbacks) {
        try {
          r.run();
        } catch (RuntimeException e) {
          // the acquire fails with the DeadlockException anyway
        }
      }
    }
  }

  /** a held shared resource: release it after releasing the real lock */
  public final class Held<T> implements AutoCloseable {
    private final Hold hold;
    private final T value;
    private boolean released;

    Held(Hold hold, T value) {
      this.hold = hold;
      this.value = value;
    }

    /** what fn returned */
    public T value() {
      return value;
    }

    /** report the release (the real lock is the application's to give back) */
    public void release() {
      if (released) return;
      released = true;
      m.lock();
      try {
        holds.remove(hold);
        dd.reporter.globalHolds.remove(hold);
        SharedResource.this.released(hold);
      } finally {
        m.unlock();
      }
      hold.owner.gave(SharedResource.this);
    }

    @Override
    public void close() {
      release();
    }
  }

  private final List<Hold> holds = new ArrayList<>();

  SharedResource(Deadlockd dd, String name) {
    super(dd, name);
  }

  @Override
  ObjectNode declaration() {
    // the daemon cannot know the order of waits arriving from different clients: never FIFO
    return JsonNodeFactory.instance.objectNode().put("type", "resource").put("resource", id).put("kind", "mutex")
        .put("scope", "global").put("fifo", false);
  }

  @Override
  boolean global() {
    return true;
  }

  @Override
  Collection<Hold> holds() {
    return holds;
  }

  @Override
  boolean fits(Owner o, int units, String mode) {
    return false;
  }

  @Override
  Hold take(Owner o, int units, String mode) {
    throw new IllegalStateException("a shared resource is granted by fn, not by the SDK");
  }

  /**
   * Take the real lock with {@code fn} (in this thread), reporting the wait while it runs.
   *
   * @throws DeadlockException if the daemon chose this wait as a deadlock's victim (fn was asked to abort)
   */
  public <T> Held<T> acquire(Acquirer<T> fn) throws Exception {
    Owner me = dd.owner();
    if (me.heldCount > 0) dd.asked(me, this);
    Abort abort = new Abort();
    Wait w = new Wait(dd.newWaitId(), me, this, 1, null, dd.captureSite());
    m.lock();
    try {
      queue.add(w);
      aborts.put(w, abort);
    } finally {
      m.unlock();
    }
    dd.reporter.waitBegan(w);
    T value;
    try {
      value = fn.acquire(abort);
    } catch (Exception e) {
      DeadlockException dl = end(w, "error");
      if (dl != null) {
        dl.addSuppressed(e);
        throw dl;
      }
      throw e;
    }
    m.lock();
    try {
      aborts.remove(w);
      if (!w.done) {
        queue.remove(w);
        Hold h = new Hold(me, this, 1, null);
        h.site = w.site;
        holds.add(h);
        w.done = true;
        w.granted = true;
        dd.reporter.waitEnded(w, h, null);
        dd.reporter.globalHolds.add(h);
        me.took(this);
        return new Held<>(h, value);
      }
    } finally {
      m.unlock();
    }
    // aborted, yet fn got the lock: the application must give it back (it gets the value in the exception's message)
    dd.log.log(System.Logger.Level.WARNING, "deadlockd: '" + id + "' was acquired after its wait was aborted; release the real lock");
    throw new DeadlockException(w.aborted.deadlockId(), w.aborted.report());
  }

  private final java.util.Map<Wait, Abort> aborts = new java.util.concurrent.ConcurrentHashMap<>();

  /** fn failed: the wait ends; the DeadlockException if it was aborted */
  private DeadlockException end(Wait w, String reason) {
    m.lock();
    try {
      aborts.remove(w);
      if (w.aborted != null) return new DeadlockException(w.aborted.deadlockId(), w.aborted.report());
      if (!w.done) {
        queue.remove(w);
        w.done = true;
        dd.reporter.waitEnded(w, null, reason);
      }
      return null;
    } finally {
      m.unlock();
    }
  }

  @Override
  void onAborted(Wait w) {
    Abort a = aborts.get(w);
    if (a != null) a.fire();
  }
}
