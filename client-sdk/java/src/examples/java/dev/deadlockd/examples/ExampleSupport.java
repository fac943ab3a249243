package dev.deadlockd.examples;

import dev.deadlockd.Deadlockd;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** What the examples share: where the daemon is, and a PostgreSQL when none is given. */
final class ExampleSupport {
  private ExampleSupport() {}

  /** -Ddeadlockd.url, else $DEADLOCKD_URL, else the daemon `npm start` runs (port 7070) */
  static String daemonUrl() {
    String u = System.getProperty("deadlockd.url");
    if (u == null || u.isEmpty()) u = System.getenv("DEADLOCKD_URL");
    return u == null || u.isEmpty() ? "ws://127.0.0.1:7070/v1/stream" : u;
  }

  /** connect, or exit 2 with a line that says how to start the daemon */
  static Deadlockd connect(String service) {
    String url = daemonUrl();
    Deadlockd dd = Deadlockd.connect(url, service);
    if (!dd.connected()) {
      System.err.println("no deadlockd daemon at " + url + ": start one with `npm start` at the repository root"
          + " (or pass -Ddeadlockd.url=ws://host:port/v1/stream)");
      dd.close();
      System.exit(2);
    }
    System.out.println("connected to deadlockd at " + url + " as service '" + service + "'");
    return dd;
  }

  /** A PostgreSQL to use: -Djdbc.url (with -Djdbc.user, -Djdbc.password), else the repository's embedded one. */
  static final class Database implements AutoCloseable {
    final String url;
    final String user;
    final String password;
    private final Process embedded;

    private Database(String url, String user, String password, Process embedded) {
      this.url = url;
      this.user = user;
      this.password = password;
      this.embedded = embedded;
    }

    static Database open() throws Exception {
      String url = System.getProperty("jdbc.url", System.getenv("JDBC_URL"));
      if (url != null && !url.isEmpty()) {
        return new Database(url, System.getProperty("jdbc.user", System.getenv("JDBC_USER")),
            System.getProperty("jdbc.password", System.getenv("JDBC_PASSWORD")), null);
      }
      Path script = findUp("scripts/embedded-pg-server.mjs");
      System.out.println("no -Djdbc.url: starting the repository's embedded PostgreSQL (" + script + ")");
      Process p = new ProcessBuilder("node", script.toString()).directory(script.getParent().getParent().toFile())
          .redirectError(ProcessBuilder.Redirect.INHERIT).start();
      BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      // its first line is its address as JSON: {"host":...,"port":...,"database":...,"user":...,"password":...}
      String line = CompletableFuture.supplyAsync(() -> {
        try {
          return r.readLine();
        } catch (Exception e) {
          return null;
        }
      }).get(180, TimeUnit.SECONDS);
      if (line == null) throw new IllegalStateException("the embedded PostgreSQL did not start (npm ci at the repository root first)");
      com.fasterxml.jackson.databind.JsonNode c = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line);
      String jdbc = "jdbc:postgresql://" + c.get("host").asText() + ":" + c.get("port").asInt() + "/" + c.get("database").asText();
      return new Database(jdbc, c.get("user").asText(), c.get("password").asText(), p);
    }

    @Override
    public void close() throws java.io.IOException {
      if (embedded == null) return;
      embedded.getOutputStream().close(); // stdin closed: it stops PostgreSQL and exits
      try {
        if (!embedded.waitFor(60, TimeUnit.SECONDS)) embedded.destroyForcibly();
      } catch (InterruptedException e) {
        embedded.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  private static Path findUp(String relative) {
    for (Path d = Path.of(System.getProperty("user.dir")).toAbsolutePath(); d != null; d = d.getParent()) {
      if (Files.exists(d.resolve(relative))) return d.resolve(relative);
    }
    throw new IllegalStateException(relative + " not found above " + System.getProperty("user.dir")
        + ": pass -Djdbc.url=jdbc:postgresql://... -Djdbc.user=... -Djdbc.password=...");
  }
}
