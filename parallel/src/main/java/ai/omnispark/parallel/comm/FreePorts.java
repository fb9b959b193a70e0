package ai.omnispark.parallel.comm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/**
 * Ports free right now, for rank addresses ({@link CommConfig} does not take port 0). The ranks
 * bind them moments later: a small, accepted race with any other process picking the same port.
 */
public final class FreePorts {
    private FreePorts() {}

    /** {@code n} distinct {@code 127.0.0.1:port} addresses (see {@link #on(String, int)}). */
    public static List<String> loopback(int n) {
        return on("127.0.0.1", n);
    }

    /**
     * {@code n} distinct {@code host:port} addresses; all are held open until every one is chosen,
     * so none repeats.
     */
    public static List<String> on(String host, int n) {
        List<ServerSocket> held = new ArrayList<>();
        List<String> out = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket();
                held.add(s);
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(host, 0));
                out.add(host + ":" + s.getLocalPort());
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("no free port on " + host, e);
        } finally {
            closeAll(held);
        }
    }

    /** One port free right now on {@code host}. */
    public static int on(String host) throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
            return s.getLocalPort();
        }
    }

    private static void closeAll(List<ServerSocket> sockets) {
        for (ServerSocket s : sockets) {
            try {
                s.close();
            } catch (IOException ignored) {
                // the port is free again either way
            }
        }
    }
}
