package dev.deadlockd.it;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * A small real lock service over TCP, for the cross-JVM test: a client sends {@code LOCK <name>} on a
 * connection of its own, gets {@code OK} once it holds the lock, and holds it until it closes that connection
 * (closing while still waiting withdraws the request). It knows nothing of deadlocks.
 */
final class LockService implements AutoCloseable {
  private final ServerSocket server;
  private final Map<String, Socket> holders = new HashMap<>();

  LockService() throws Exception {
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(this::accept, "lock-service");
    t.setDaemon(true);
    t.start();
  }

  int port() {
    return server.getLocalPort();
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        Thread t = new Thread(() -> serve(s), "lock-service-conn");
        t.setDaemon(true);
        t.start();
      } catch (Exception e) {
        return;
      }
    }
  }

  private void serve(Socket s) {
    String name = null;
    try (s) {
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
      String line = in.readLine();
      if (line == null || !line.startsWith("LOCK ")) return;
      name = line.substring(5);
      synchronized (this) {
        while (holders.containsKey(name)) {
          if (s.isClosed()) return;
          wait(50); // re-checks the socket: a client that gave up is dropped from the queue
          if (peerGone(s)) return;
        }
        holders.put(name, s);
      }
      OutputStream out = s.getOutputStream();
      out.write("OK\n".getBytes(StandardCharsets.UTF_8));
      out.flush();
      while (in.read() >= 0) {
        // held until the client closes
      }
    } catch (Exception e) {
      // the client went away
    } finally {
      if (name != null) {
        synchronized (this) {
          if (holders.get(name) == s) holders.remove(name);
          notifyAll();
        }
      }
    }
  }

  private static boolean peerGone(Socket s) {
    try {
      s.setSoTimeout(1);
      return s.getInputStream().read() < 0;
    } catch (java.net.SocketTimeoutException e) {
      return false;
    } catch (Exception e) {
      return true;
    }
  }

  @Override
  public void close() throws java.io.IOException {
    server.close();
  }
}
