package ai.omnispark.trainer.spark;

import ai.omnispark.trainer.loop.StepListener;
import ai.omnispark.trainer.loop.StepResult;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/**
 * The driver's end of the progress channel: rank 0 connects and sends JSON lines, either a step
 * ({@code {"step":..}}) for the listener or a log line ({@code {"log":..}}) for the console. One
 * connection per attempt; lines from an older attempt's connection are dropped once a newer
 * attempt has connected.
 */
final class ProgressServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ServerSocket server;
    private final Thread thread;
    private final StepListener listener;
    private final PrintStream console;
    private final byte[] token;
    private volatile long total;
    private volatile long lastStep;
    private volatile boolean closed;

    ProgressServer(String bindHost, StepListener listener, PrintStream console, byte[] token) throws IOException {
        this.listener = listener;
        this.console = console;
        this.token = token.clone();
        this.server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getByName(bindHost), 0));
        server.setSoTimeout(1000);
        this.thread = new Thread(this::acceptLoop, "omnispark-progress");
        thread.setDaemon(true);
        thread.start();
    }

    int port() {
        return server.getLocalPort();
    }

    private void acceptLoop() {
        while (!closed) {
            try (Socket s = server.accept()) {
                // A dead rank 0 must not leave this thread blocked forever: a read waits at most 10 min.
                s.setSoTimeout(600_000);
                serve(s);
            } catch (SocketTimeoutException e) {
                // poll closed
            } catch (IOException e) {
                if (!closed) {
                    console.println("omnispark: progress connection lost: " + e.getMessage());
                }
            }
        }
    }

    private void serve(Socket s) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
        String hello = in.readLine();
        if (hello == null || !hello.equals(java.util.HexFormat.of().formatHex(token))) {
            console.println("omnispark: refused a progress connection from " + s.getRemoteSocketAddress()
                    + " without the run's token");
            return;
        }
        String line;
        while ((line = in.readLine()) != null) {
            JsonNode o = JSON.readTree(line);
            if (o.has("log")) {
                console.println(o.get("log").asText());
            } else if (o.has("step")) {
                total = o.path("total").asLong(total);
                lastStep = o.get("step").asLong();
                listener.onStep(new StepResult(o.get("step").asLong(), o.get("loss").asDouble(),
                        o.get("lr").asDouble(), o.get("grad_norm").asDouble(), o.get("tokens").asLong(),
                        o.get("step_ms").asDouble(), o.get("data_wait_ms").asDouble()), total);
            }
        }
    }

    /** Waits (up to 10 s) until the line of {@code step} has arrived: the stage may end before its last lines. */
    void drain(long step) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (lastStep < step && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
