package dev.deadlockd.it;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Plays the daemon for the SDK's side of the conformance suite: a WebSocket server (RFC 6455, text frames,
 * ping/pong, close) on blocking sockets, one thread per connection, that records every frame the SDK sends
 * and sends what the test tells it to on the last connection that opened.
 *
 * <p>Why not a library: the JDK has no WebSocket server, and the selector-based one used before
 * (Java-WebSocket) once lost a frame sent from the test thread (the SDK never saw the welcome) in a full CI
 * run. Here a send is a synchronized write and flush on the test's own thread, so a frame is on the socket
 * when {@link #send} returns and a lost frame can only be the SDK's doing.
 */
final class FakeDaemon implements AutoCloseable {
  private static final String ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

  final List<JsonNode> frames = new CopyOnWriteArrayList<>();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final ServerSocket server;
  private volatile OutputStream last;

  FakeDaemon() throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(this::accept, "fake-daemon-accept");
    t.setDaemon(true);
    t.start();
  }

  int port() {
    return server.getLocalPort();
  }

  String url() {
    return "ws://127.0.0.1:" + port() + "/v1/stream";
  }

  /** sends one text frame on the last connection that opened; on the socket when this returns */
  void send(JsonNode frame) throws IOException {
    OutputStream out = last;
    if (out == null) throw new IOException("no connection is open");
    write(out, 0x1, frame.toString().getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void close() {
    try {
      server.close();
    } catch (IOException e) {
      // closing anyway
    }
    for (Socket s : sockets) {
      try {
        s.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        sockets.add(s);
        Thread t = new Thread(() -> serve(s), "fake-daemon-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void serve(Socket s) {
    try (s) {
      s.setTcpNoDelay(true);
      DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
      OutputStream out = s.getOutputStream();
      String key = null;
      for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals("sec-websocket-key")) key = line.substring(colon + 1).trim();
      }
      if (key == null) return;
      String accept = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1").digest((key + ACCEPT_GUID).getBytes(StandardCharsets.US_ASCII)));
      synchronized (out) {
        out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
        out.flush();
      }
      last = out;
      ByteArrayOutputStream message = new ByteArrayOutputStream();
      for (;;) {
        int b0 = in.readUnsignedByte();
        int b1 = in.readUnsignedByte();
        long len = b1 & 0x7f;
        if (len == 126) len = in.readUnsignedShort();
        else if (len == 127) len = in.readLong();
        byte[] mask = new byte[4];
        if ((b1 & 0x80) != 0) in.readFully(mask);
        byte[] payload = new byte[Math.toIntExact(len)];
        in.readFully(payload);
        for (int i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
        int opcode = b0 & 0x0f;
        if (opcode == 0x8) { // close: answer it and end
          write(out, 0x8, payload.length >= 2 ? new byte[] {payload[0], payload[1]} : new byte[0]);
          return;
        }
        if (opcode == 0x9) {
          write(out, 0xA, payload);
          continue;
        }
        if (opcode == 0xA) continue;
        message.write(payload);
        if ((b0 & 0x80) != 0) { // the last fragment of a text message
          frames.add(DaemonProcess.JSON.readTree(message.toString(StandardCharsets.UTF_8)));
          message.reset();
        }
      }
    } catch (Exception e) {
      // the connection ended (the SDK closed it, or close() did)
    }
  }

  private static String readLine(DataInputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c < 0) throw new IOException("the connection closed in the handshake");
      if (c != '\r') b.append((char) c);
    }
    return b.toString();
  }

  /** one unmasked, unfragmented frame (a server's frames are never masked) */
  private static void write(OutputStream out, int opcode, byte[] payload) throws IOException {
    ByteArrayOutputStream f = new ByteArrayOutputStream(payload.length + 10);
    f.write(0x80 | opcode);
    if (payload.length < 126) {
      f.write(payload.length);
    } else if (payload.length <= 0xffff) {
      f.write(126);
      f.write(payload.length >>> 8);
      f.write(payload.length & 0xff);
    } else {
      f.write(127);
      for (int shift = 56; shift >= 0; shift -= 8) f.write((int) ((long) payload.length >>> shift) & 0xff);
    }
    f.write(payload);
    synchronized (out) {
      f.writeTo(out);
      out.flush();
    }
  }
}
