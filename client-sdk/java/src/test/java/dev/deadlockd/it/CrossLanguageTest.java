package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.deadlockd.DeadlockException;
import dev.deadlockd.Deadlockd;
import dev.deadlockd.SharedResource;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A Java, a Python and a Node service deadlock through three PostgreSQL advisory locks in one cycle (Java holds 1
 * wants 2, Python holds 2 wants 3, Node holds 3 wants 1). Each names the locks as @deadlockd/client/pg-advisory
 * does ({@code pg:<system identifier>/<database>/advisory:<key>}): exactly one abort, one report naming all three
 * services with each side's call site.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class CrossLanguageTest {
  static final Path PY = DaemonProcess.REPO.resolve("client-sdk/python/.venv/bin/python");

  static final class Child {
    final Process p;
    final List<JsonNode> lines = new CopyOnWriteArrayList<>();

    Child(List<String> cmd) throws Exception {
      p = new ProcessBuilder(cmd).directory(DaemonProcess.REPO.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      Thread t = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
          for (String l; (l = r.readLine()) != null; ) if (l.startsWith("{")) lines.add(DaemonProcess.JSON.readTree(l));
        } catch (Exception e) {
          // gone
        }
      });
      t.setDaemon(true);
      t.start();
    }

    boolean holding() {
      return lines.stream().anyMatch(l -> l.has("holding"));
    }

    String result() {
      return lines.stream().filter(l -> l.has("result")).findFirst().map(l -> l.get("result").asText()).orElse(null);
    }

    void go() throws Exception {
      OutputStream o = p.getOutputStream();
      o.write("go\n".getBytes(StandardCharsets.UTF_8));
      o.flush();
    }
  }

  static String identity(Connection c) throws Exception {
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery("select current_database() as db, (select system_identifier::text from pg_control_system()) as server")) {
      r.next();
      return r.getString("server") + "/" + r.getString("db");
    }
  }

  static SharedResource.Held<Long> advisoryLock(Deadlockd dd, Connection c, long key) throws Exception {
    return dd.resource("pg:" + identity(c) + "/advisory:" + key).acquire(abort -> {
      try (Statement s = c.createStatement()) {
        abort.onAbort(() -> {
          try {
            s.cancel(); // ends the server-side wait with query_canceled
          } catch (Exception e) {
            // the query settled already
          }
        });
        s.execute("select pg_advisory_lock(" + key + ")");
      }
      return key;
    });
  }

  static void unlock(Connection c, long key) throws Exception {
    try (Statement s = c.createStatement()) {
      s.execute("select pg_advisory_unlock(" + key + ")");
    }
  }

  @Test
  void javaPythonAndNodeInOneCycleOneAbortOneReportNamingAllThree() throws Exception {
    Assumptions.assumeTrue(Files.exists(PY), "the Python SDK's virtualenv (npm test makes it before the Java tests run)");
    long k1 = 93_001;
    long k2 = 93_002;
    long k3 = 93_003;
    try (Postgres pg = new Postgres(); DaemonProcess daemon = new DaemonProcess();
        Deadlockd dd = Deadlockd.connect(daemon.url, "java-orders");
        Connection db = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password())) {
      String dsn = "host=" + pg.config.get("host").asText() + " port=" + pg.config.get("port").asInt() + " user=" + pg.user()
          + " password=" + pg.password() + " dbname=" + pg.config.get("database").asText();
      Child py = new Child(List.of(PY.toString(), DaemonProcess.REPO.resolve("client-sdk/java/src/test/python/py_transfer.py").toString(),
          daemon.url, dsn, String.valueOf(k2), String.valueOf(k3)));
      Child node = new Child(List.of("node", DaemonProcess.REPO.resolve("client-sdk/python/tests/support/node_transfer.mjs").toString(),
          daemon.url, pg.config.toString(), String.valueOf(k3), String.valueOf(k1)));
      try {
        String javaResult = dd.task("java-transfer", () -> {
          SharedResource.Held<Long> a = advisoryLock(dd, db, k1);
          try {
            try {
              DaemonProcess.until(() -> py.holding() && node.holding(), "the Python and Node sides to hold their first lock", 120_000);
              py.go();
              node.go();
              SharedResource.Held<Long> b;
              try {
                b = advisoryLock(dd, db, k2);
              } catch (DeadlockException e) {
                return "deadlock";
              }
              unlock(db, k2);
              b.release();
              return "granted";
            } finally {
              unlock(db, k1);
            }
          } finally {
            a.release();
          }
        });
        DaemonProcess.until(() -> py.result() != null && node.result() != null, "the Python and Node sides to finish", 120_000);
        List<String> results = List.of(javaResult, py.result(), node.result());
        assertEquals(1, results.stream().filter("deadlock"::equals).count(), "exactly one abort: " + results);
        List<JsonNode> dls = daemon.deadlocks();
        assertEquals(1, dls.size(), dls.toString());
        String report = dls.get(0).toString();
        for (String s : List.of("java-orders", "py-inventory", "node-billing")) assertTrue(report.contains(s), s + " in " + report);
        assertTrue(report.contains("CrossLanguageTest"), "the Java call site: " + report);
        assertTrue(report.contains("py_transfer.py"), "the Python call site: " + report);
        assertTrue(report.contains("node_transfer.mjs"), "the Node call site: " + report);
        assertTrue(py.p.waitFor(60, TimeUnit.SECONDS) && node.p.waitFor(60, TimeUnit.SECONDS));
      } finally {
        py.p.destroyForcibly();
        node.p.destroyForcibly();
      }
    }
  }
}
