package dev.deadlockd;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A fixed thread pool whose slots are a counted resource ({@code executor:<name>}, one unit per running task) and
 * whose tasks are owners: a submitted task waits for a slot until a pool thread runs it, and {@link TaskFuture#get()}
 * is a wait on that task. K running tasks each blocking on a subtask queued behind them in the same K-slot pool is a
 * cycle; the daemon aborts one waiter's {@code get()} (a queued task is declared not abortable: it holds nothing) with a
 * {@link DeadlockException}, that task finishes, its slot runs a subtask, and the rest complete.
 */
public final class DExecutor extends Res {
  private final ExecutorService pool;
  private final int slots;
  private final Map<Owner, Hold> running = new LinkedHashMap<>();
  private final AtomicLong seq = new AtomicLong();

  DExecutor(Deadlockd dd, String name, ExecutorService pool, int slots) {
    super(dd, "executor:" + name);
    if (slots < 1) throw new IllegalArgumentException("an executor has at least 1 slot");
    this.pool = pool;
    this.slots = slots;
  }

  @Override
  ObjectNode declaration() {
    // not fifo: the pool's threads take queued tasks in its own order, not in the order the waits were reported
    return JsonNodeFactory.instance.objectNode().put("type", "resource").put("resource", id).put("kind", "semaphore")
        .put("scope", "local").put("capacity", slots).put("label", "executor " + id.substring("executor:".length()));
  }

  @Override
  boolean counted() {
    return true;
  }

  @Override
  Collection<Hold> holds() {
    return new ArrayList<>(running.values());
  }

  @Override
  boolean fits(Owner o, int units, String mode) {
    return false; // slots are granted by the pool's threads, not here
  }

  @Override
  Hold take(Owner o, int units, String mode) {
    throw new IllegalStateException("granted by the pool");
  }

  /** the wrapped pool */
  public ExecutorService pool() {
    return pool;
  }

  public <T> TaskFuture<T> submit(Callable<T> fn) {
    return submit(id.substring("executor:".length()) + "-task-" + seq.incrementAndGet(), fn);
  }

  public TaskFuture<Void> submit(Runnable fn) {
    return submit(() -> {
      fn.run();
      return null;
    });
  }

  /** submit a task named {@code name}; until a pool thread runs it, it waits for a slot (reported when contended) */
  public <T> TaskFuture<T> submit(String name, Callable<T> fn) {
    Owner task = dd.newTaskOwner(name, 0, false);
    TaskFuture<T> f = new TaskFuture<>(task);
    Wait queued = new Wait(dd.newWaitId(), task, this, 1, null, dd.captureSite());
    m.lock();
    try {
      queue.add(queued);
      dd.reporter.waitBegan(queued);
    } finally {
      m.unlock();
    }
    pool.execute(() -> run(task, queued, f, fn));
    return f;
  }

  private <T> void run(Owner task, Wait queued, TaskFuture<T> f, Callable<T> fn) {
    Hold h = new Hold(task, this, 1, null);
    m.lock();
    try {
      queue.remove(queued);
      queued.done = true;
      queued.granted = true;
      queued.hold = h;
      running.put(task, h);
      dd.reporter.waitEnded(queued, h, null);
      // queued it was never a victim (aborting it would only fail its waiter); running, it may be one
      task.abortable = true;
      dd.reporter.ownerChanged(task);
    } finally {
      m.unlock();
    }
    T value = null;
    Throwable failure = null;
    try {
      value = dd.runAs(task, fn);
    } catch (Throwable e) {
      failure = e;
    } finally {
      m.lock();
      try {
        running.remove(task);
        released(h);
        f.complete(value, failure);
      } finally {
        m.unlock();
      }
      dd.reporter.ownerEnded(task);
    }
  }

  /** The result of a task of this executor; {@code get()} and {@code join()} are waits on the task the daemon sees. */
  public final class TaskFuture<T> implements java.util.concurrent.Future<T> {
    private final Owner task;
    private final List<Wait> waiters = new ArrayList<>();
    private boolean done;
    private T value;
    private Throwable failure;

    TaskFuture(Owner task) {
      this.task = task;
    }

    /** under m */
    void complete(T v, Throwable e) {
      done = true;
      value = v;
      failure = e;
      for (Wait w : waiters) {
        if (w.done) continue;
        w.done = true;
        w.granted = true;
        dd.reporter.waitEnded(w, null, null); // the daemon satisfies a wait for a task when the task ends
        w.cond.signal();
      }
      waiters.clear();
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      return false;
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public boolean isDone() {
      m.lock();
      try {
        return done;
      } finally {
        m.unlock();
      }
    }

    @Override
    public T get() throws InterruptedException, ExecutionException {
      await(-1);
      return result();
    }

    @Override
    public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
      if (!await(nanos(timeout, unit))) throw new TimeoutException();
      return result();
    }

    /** like CompletableFuture.join: the task's exception unchecked */
    public T join() {
      boolean interrupted = false;
      for (;;) {
        try {
          await(-1);
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) Thread.currentThread().interrupt();
      if (failure instanceof RuntimeException r) throw r;
      if (failure instanceof Error e) throw e;
      if (failure != null) throw new java.util.concurrent.CompletionException(failure);
      return value;
    }

    private T result() throws ExecutionException {
      if (failure != null) throw new ExecutionException(failure);
      return value;
    }

    private boolean await(long timeoutNanos) throws InterruptedException {
      Owner me = dd.owner();
      m.lock();
      try {
        if (done) return true;
        Wait w = new Wait(dd.newWaitId(), me, DExecutor.this, 1, null, dd.captureSite());
        w.task = task;
        waiters.add(w);
        dd.reporter.waitBegan(w);
        long nanos = timeoutNanos;
        while (!w.done) {
          if (timeoutNanos >= 0) {
            if (nanos <= 0) {
              waiters.remove(w);
              w.done = true;
              dd.reporter.waitEnded(w, null, "timeout");
              return false;
            }
            nanos = w.cond.awaitNanos(nanos);
          } else {
            try {
              w.cond.await();
            } catch (InterruptedException e) {
              if (!w.done) {
                waiters.remove(w);
                w.done = true;
                dd.reporter.waitEnded(w, null, "signal");
              }
              throw e;
            }
          }
        }
        if (w.aborted != null) throw new DeadlockException(w.aborted.deadlockId(), w.aborted.report());
        return true;
      } finally {
        m.unlock();
      }
    }
  }
}
