package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The README's examples (src/examples/java), run as a new user runs them: the main class of each pom.xml exec
 * execution the README names ({@code mvn -q test-compile exec:exec@<id>}), in its own JVM, against a real daemon,
 * and for the HikariCP one a real PostgreSQL. So neither the README, the pom nor the examples can rot apart.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ExamplesTest {
  static final Path PKG = DaemonProcess.REPO.resolve("client-sdk/java");
  static DaemonProcess daemon;

  @BeforeAll
  static void start() throws Exception {
    daemon = new DaemonProcess();
  }

  @AfterAll
  static void stop() {
    if (daemon != null) daemon.close();
  }

  @Test
  void nestedGetConnectionEndsWithOneDeadlockExceptionNotTimeouts() throws Exception {
    try (Postgres pg = new Postgres()) {
      String out = runExample("nested-get-connection", "-Djdbc.url=" + pg.jdbcUrl(), "-Djdbc.user=" + pg.user(), "-Djdbc.password=" + pg.password());
      Matcher m = Pattern.compile("RESULT deadlockExceptions=(\\d+) completed=(\\d+) resolvedMs=(-?\\d+)").matcher(out);
      assertTrue(m.find(), out);
      assertEquals("1", m.group(1), "one DeadlockException: " + out);
      assertEquals("3", m.group(2), "the other requests completed: " + out);
      assertFalse(out.contains("SQLTransientConnectionException:"), "no HikariCP timeout: " + out);
      assertTrue(out.contains("hazard from the daemon (nested-pool-checkout)"), "one request alone: the hazard: " + out);
      assertTrue(out.contains("NestedGetConnection.audit"), "the helper's call site is in the report: " + out);
    }
  }

  @Test
  void diningPhilosophersAllEatAfterOneDeadlockException() throws Exception {
    String out = runExample("dining-philosophers");
    assertTrue(out.contains("RESULT ate=5 deadlockExceptions=1"), out);
  }

  /** the main class the pom's exec execution {@code id} runs, run with the test classpath; returns its output */
  private static String runExample(String id, String... props) throws Exception {
    String readme = Files.readString(PKG.resolve("README.md"));
    assertTrue(readme.contains("exec:exec@" + id), "the README names `exec:exec@" + id + "`");
    String pom = Files.readString(PKG.resolve("pom.xml"));
    Matcher m = Pattern.compile("<id>" + Pattern.quote(id) + "</id>.*?<argument>(dev\\.deadlockd\\.examples\\.\\w+)</argument>", Pattern.DOTALL)
        .matcher(pom);
    assertTrue(m.find(), "pom.xml has an exec execution '" + id + "'");
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Ddeadlockd.url=" + daemon.url));
    cmd.addAll(List.of(props));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), m.group(1)));
    Process p = new ProcessBuilder(cmd).directory(PKG.toFile()).redirectErrorStream(true).start();
    try {
      CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
      assertTrue(p.waitFor(240, TimeUnit.SECONDS), "the example finished");
      String text = out.get(30, TimeUnit.SECONDS);
      assertEquals(0, p.exitValue(), text);
      return text;
    } finally {
      p.destroyForcibly();
    }
  }

  private static String read(InputStream in) {
    try {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      in.transferTo(b);
      return b.toString(StandardCharsets.UTF_8);
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }
}
