package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.deadlockd.DExecutor;
import dev.deadlockd.DeadlockException;
import dev.deadlockd.Deadlockd;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Thread-starvation deadlock: K tasks of a K-slot pool each block on a subtask queued to the same pool. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ExecutorTest {
  @Test
  void kTasksBlockingOnSubtasksOfTheSameFullPoolOneDeadlockExceptionTheRestComplete() throws Exception {
    int k = 4;
    ExecutorService fixed = Executors.newFixedThreadPool(k);
    try (DaemonProcess daemon = new DaemonProcess(); Deadlockd dd = Deadlockd.connect(daemon.url, "java-executor")) {
      DExecutor ex = dd.executor("workers", fixed, k);
      CyclicBarrier allRunning = new CyclicBarrier(k);
      List<DExecutor.TaskFuture<String>> outer = new ArrayList<>();
      for (int i = 0; i < k; i++) {
        int me = i;
        outer.add(ex.submit("outer-" + i, () -> {
          allRunning.await(DaemonProcess.STEP_MS, TimeUnit.MILLISECONDS);
          DExecutor.TaskFuture<String> sub = ex.submit("sub-" + me, () -> "sub-" + me);
          try {
            return sub.get();
          } catch (DeadlockException e) {
            return "deadlock " + e.deadlockId();
          }
        }));
      }
      List<String> results = new ArrayList<>();
      for (DExecutor.TaskFuture<String> f : outer) {
        try {
          results.add(f.get(DaemonProcess.STEP_MS * 2, TimeUnit.MILLISECONDS));
        } catch (ExecutionException e) {
          results.add(e.getCause().toString());
        }
      }
      assertEquals(1, results.stream().filter(r -> r.startsWith("deadlock ")).count(), "one waiter aborted: " + results);
      assertEquals(k - 1, results.stream().filter(r -> r.startsWith("sub-")).count(), "the rest completed: " + results);
      List<JsonNode> dls = daemon.deadlocks();
      assertEquals(1, dls.size(), dls.toString());
      JsonNode victim = dls.get(0).path("report").path("victim");
      assertTrue(victim.path("reason").isTextual() && victim.path("waitId").isTextual(), "the report names its victim and why: " + dls.get(0));
      assertTrue(dls.get(0).path("report").path("text").asText().contains("victim: task 'outer-"), "a waiter, not a queued task: " + victim);
      assertTrue(dls.get(0).toString().contains("executor:workers"), dls.get(0).toString());
    } finally {
      fixed.shutdownNow();
    }
  }
}
