package ai.omnispark.trainer.spark;

import ai.omnispark.trainer.job.MetricsLog;
import ai.omnispark.trainer.loop.StepListener;
import ai.omnispark.trainer.loop.StepResult;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Rank 0's end of the progress channel: steps and log lines to the driver, as JSON lines.
 *
 * <p>Progress must never fail or stall training: the training thread only offers lines to a
 * bounded queue ({@link #QUEUE_LINES}) and a daemon thread connects, authenticates and writes
 * them. A full queue (a slow or stalled driver) or a broken connection drops lines and counts
 * them ({@link #dropped}); nothing is thrown to the training thread.
 */
final class ProgressSender implements StepListener, AutoCloseable {
    static final int QUEUE_LINES = 1024;
    private static final int CONNECT_TIMEOUT_MS = 30_000;
    /** How long {@link #close} lets queued lines go out before dropping them. */
    private static final long FLUSH_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final BlockingQueue<String> queue = new ArrayBlockingQueue<>(QUEUE_LINES);
    private final AtomicLong dropped = new AtomicLong();
    private final Socket socket = new Socket();
    private final Thread writer;
    private volatile String lost;
    private volatile boolean closing;

    ProgressSender(String host, int port, int attempt, byte[] token) {
        String hello = attempt + " " + HexFormat.of().formatHex(token) + "\n";
        writer = new Thread(() -> run(host, port, hello), "omnispark-progress-sender");
        writer.setDaemon(true);
        writer.start();
    }

    @Override
    public void onStep(StepResult result, long totalSteps) {
        ObjectNode o = MetricsLog.toJson(result);
        o.put("total", totalSteps);
        offer(o);
    }

    void log(String line) {
        offer(JSON.createObjectNode().put("log", line));
    }

    private void offer(ObjectNode o) {
        if (lost != null || !queue.offer(o.toString())) {
            dropped.incrementAndGet();
        }
    }

    /** Lines that never reached the driver's socket. */
    long dropped() {
        return dropped.get();
    }

    /** Why the channel broke, or null while it works. */
    String lost() {
        return lost;
    }

    private void run(String host, int port, String hello) {
        try {
            socket.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
            OutputStream out = socket.getOutputStream();
            out.write(hello.getBytes(StandardCharsets.UTF_8));
            out.flush();
            while (true) {
                String line = queue.poll(100, TimeUnit.MILLISECONDS);
                if (line == null) {
                    if (closing) {
                        return;
                    }
                    continue;
                }
                out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                if (queue.isEmpty()) {
                    out.flush();
                }
            }
        } catch (IOException e) {
            lost = e.getMessage() == null ? e.toString() : e.getMessage();
        } catch (InterruptedException e) {
            lost = "interrupted";
        } finally {
            if (lost == null && closing && !queue.isEmpty()) {
                lost = "closed with lines still queued";
            }
            dropped.addAndGet(queue.size());
            queue.clear();
        }
    }

    /** A console for rank 0 whose lines go to the driver. */
    PrintStream console() {
        return new PrintStream(new OutputStream() {
            private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();

            @Override
            public void write(int b) {
                if (b == '\n') {
                    log(line.toString(StandardCharsets.UTF_8));
                    line.reset();
                } else {
                    line.write(b);
                }
            }
        }, true, StandardCharsets.UTF_8);
    }

    /** Lets queued lines go out (up to 5 s), then closes; whatever is left is counted as dropped. */
    @Override
    public void close() {
        long deadline = System.nanoTime() + FLUSH_NANOS;
        while (!queue.isEmpty() && writer.isAlive() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        closing = true;
        try {
            writer.join(500);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            socket.close(); // unblocks a writer stuck on a driver that stopped reading
        } catch (IOException ignored) {
            // nothing left to release
        }
        try {
            writer.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
