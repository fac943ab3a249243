package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Two JVM processes take two locks of a real lock service in opposite orders: one abort, in one JVM. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class CrossJvmTest {
  static final class Worker {
    final Process p;
    final List<String> lines = new CopyOnWriteArrayList<>();

    Worker(String... args) throws Exception {
      List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-cp", System.getProperty("java.class.path"), LockWorker.class.getName()));
      cmd.addAll(List.of(args));
      p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      Thread t = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
          for (String l; (l = r.readLine()) != null; ) lines.add(l);
        } catch (Exception e) {
          // gone
        }
      });
      t.setDaemon(true);
      t.start();
    }

    void go() throws Exception {
      OutputStream o = p.getOutputStream();
      o.write("go\n".getBytes(StandardCharsets.UTF_8));
      o.flush();
    }

    String result() {
      return lines.stream().filter(l -> l.startsWith("result ")).findFirst().map(l -> l.substring(7)).orElse(null);
    }
  }

  @Test
  void oppositeOrdersAcrossTwoJvmsOneAbortInOneJvm() throws Exception {
    try (DaemonProcess daemon = new DaemonProcess(); LockService locks = new LockService()) {
      String port = String.valueOf(locks.port());
      Worker a = new Worker(daemon.url, "jvm-orders", port, "stock:1", "stock:2");
      Worker b = new Worker(daemon.url, "jvm-billing", port, "stock:2", "stock:1");
      try {
        DaemonProcess.until(() -> a.lines.contains("holding") && b.lines.contains("holding"), "both JVMs to hold their first lock", 90_000);
        a.go();
        b.go();
        DaemonProcess.until(() -> a.result() != null && b.result() != null, "both JVMs to finish", 90_000);
        List<String> results = List.of(a.result(), b.result());
        assertEquals(1, results.stream().filter(r -> r.startsWith("deadlock ")).count(), "one abort: " + results);
        assertEquals(1, results.stream().filter(r -> r.equals("granted")).count(), "the other JVM went on: " + results);
        List<JsonNode> dls = daemon.deadlocks();
        assertEquals(1, dls.size(), dls.toString());
        String report = dls.get(0).toString();
        assertTrue(report.contains("jvm-orders") && report.contains("jvm-billing"), "the report names both services: " + report);
        assertTrue(report.contains("LockWorker"), "with the Java call sites: " + report);
        assertTrue(a.p.waitFor(60, TimeUnit.SECONDS) && b.p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, a.p.exitValue());
        assertEquals(0, b.p.exitValue());
      } finally {
        a.p.destroyForcibly();
        b.p.destroyForcibly();
      }
    }
  }
}
