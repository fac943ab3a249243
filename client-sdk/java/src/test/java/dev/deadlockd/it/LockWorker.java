package dev.deadlockd.it;

import dev.deadlockd.DeadlockException;
import dev.deadlockd.Deadlockd;
import dev.deadlockd.SharedResource;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * One JVM of the cross-JVM test: takes lock {@code first} of the {@link LockService}, says {@code holding},
 * waits for {@code go} on stdin, then takes {@code second}. Prints {@code result granted} or
 * {@code result deadlock <id>}. Args: daemonUrl service lockServicePort first second.
 */
public final class LockWorker {
  private LockWorker() {}

  static Socket take(int port, String name, SharedResource.Abort abort) throws Exception {
    Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
    abort.onAbort(() -> {
      try {
        s.close(); // withdraws the request at the lock service
      } catch (Exception e) {
        // closed already
      }
    });
    s.getOutputStream().write(("LOCK " + name + "\n").getBytes(StandardCharsets.UTF_8));
    s.getOutputStream().flush();
    String ok = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
    if (!"OK".equals(ok)) throw new IllegalStateException("lock service said " + ok);
    return s;
  }

  public static void main(String[] args) throws Exception {
    String url = args[0];
    String service = args[1];
    int port = Integer.parseInt(args[2]);
    BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    try (Deadlockd dd = Deadlockd.connect(url, service)) {
      String result = dd.task(service + "-transfer", () -> {
        try (SharedResource.Held<Socket> a = dd.resource(args[3]).acquire(abort -> take(port, args[3], abort))) {
          System.out.println("holding");
          System.out.flush();
          String go = stdin.readLine();
          if (!"go".equals(go)) return "no go";
          try (SharedResource.Held<Socket> b = dd.resource(args[4]).acquire(abort -> take(port, args[4], abort))) {
            b.value().close();
            return "granted";
          } catch (DeadlockException e) {
            return "deadlock " + e.deadlockId();
          } finally {
            a.value().close();
          }
        }
      });
      System.out.println("result " + result);
      System.out.flush();
    }
  }
}
