package ai.omnispark.trainer.spark;

import ai.omnispark.trainer.loop.StepListener;
import ai.omnispark.trainer.loop.StepResult;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The driver's end of the progress channel: rank 0 connects and sends JSON lines, either a step
 * ({@code {"step":..}}) for the listener or a log line ({@code {"log":..}}) for the console.
 *
 * <p>Anyone who can reach the port may connect, so nothing a client sends is trusted before it
 * authenticates: the first line, {@code "<attempt> <token in hex>"}, is read with a byte limit
 * ({@link #HELLO_LIMIT}) and a time limit ({@link #HELLO_TIMEOUT_MS}), and a client that sends too
 * much, too little or the wrong token is closed. Connections are served concurrently, at most
 * {@link #MAX_CONNECTIONS} at a time (more are closed at once), so a silent client cannot hold up
 * rank 0's. Each launch attempt has its own token ({@link #beginAttempt}): a straggler of an older
 * attempt cannot connect, and lines still arriving on an older attempt's connection are dropped.
 * Lines over {@link #LINE_LIMIT} bytes are dropped too.
 */
final class ProgressServer implements AutoCloseable {
    static final int HELLO_LIMIT = 256;
    static final int HELLO_TIMEOUT_MS = 10_000;
    static final int LINE_LIMIT = 1 << 20;
    static final int MAX_CONNECTIONS = 4;
    /** An authenticated rank 0 that sends nothing for this long is taken for dead. */
    private static final int IDLE_TIMEOUT_MS = 600_000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ServerSocket server;
    private final Thread thread;
    private final StepListener listener;
    private final PrintStream console;
    private final Semaphore slots = new Semaphore(MAX_CONNECTIONS);
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicLong staleLines = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private volatile int attempt = -1;
    private volatile byte[] token = new byte[0];
    private volatile int liveConnections;
    private volatile long total;
    private volatile long lastStep;
    private volatile boolean closed;

    ProgressServer(String bindHost, StepListener listener, PrintStream console) throws IOException {
        this.listener = listener;
        this.console = console;
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

    /** From now on only {@code attempt}'s rank 0, which knows {@code token}, is heard. */
    synchronized void beginAttempt(int attempt, byte[] token) {
        this.token = token.clone();
        this.attempt = attempt;
        this.liveConnections = 0;
        this.lastStep = 0;
    }

    /** Lines dropped because their attempt was no longer the current one. */
    long staleLines() {
        return staleLines.get();
    }

    /** Connections closed unheard: no or a wrong token, too long a hello, or no free slot. */
    long refused() {
        return refused.get();
    }

    /** The last step heard from the current attempt. */
    long lastStep() {
        return lastStep;
    }

    /** Closes every connection (tests: the driver's side of the channel going away mid-run). */
    void dropConnections() {
        for (Socket s : open) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing is all we want
            }
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = server.accept();
            } catch (SocketTimeoutException e) {
                continue; // poll closed
            } catch (IOException e) {
                if (!closed) {
                    console.println("omnispark: progress server: " + e.getMessage());
                }
                continue;
            }
            if (!slots.tryAcquire()) {
                refused.incrementAndGet();
                closeQuietly(s);
                continue;
            }
            open.add(s);
            Thread t = new Thread(() -> {
                try {
                    serve(s);
                } finally {
                    open.remove(s);
                    closeQuietly(s);
                    slots.release();
                }
            }, "omnispark-progress-connection");
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(Socket s) {
        int mine;
        try {
            InputStream in = new java.io.BufferedInputStream(s.getInputStream());
            mine = authenticate(s, in);
            if (mine < 0) {
                refused.incrementAndGet();
                console.println("omnispark: refused a progress connection from " + s.getRemoteSocketAddress()
                        + " without the current attempt's token");
                return;
            }
            s.setSoTimeout(IDLE_TIMEOUT_MS);
            synchronized (this) {
                liveConnections++;
            }
            try {
                readLines(in, mine);
            } finally {
                synchronized (this) {
                    if (mine == attempt) {
                        liveConnections--;
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                console.println("omnispark: progress connection lost: " + e.getMessage());
            }
        }
    }

    /**
     * The attempt the hello proves, or -1. Reads at most {@link #HELLO_LIMIT} bytes within
     * {@link #HELLO_TIMEOUT_MS} in all, however slowly they trickle in.
     */
    private int authenticate(Socket s, InputStream in) throws IOException {
        long deadline = System.nanoTime() + HELLO_TIMEOUT_MS * 1_000_000L;
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try {
            while (true) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0 || line.size() >= HELLO_LIMIT) {
                    return -1;
                }
                s.setSoTimeout((int) left);
                int b = in.read();
                if (b < 0) {
                    return -1;
                }
                if (b == '\n') {
                    break;
                }
                line.write(b);
            }
        } catch (SocketTimeoutException e) {
            return -1;
        }
        String hello = line.toString(StandardCharsets.UTF_8);
        int space = hello.indexOf(' ');
        if (space <= 0) {
            return -1;
        }
        int claimed;
        byte[] proof;
        try {
            claimed = Integer.parseInt(hello.substring(0, space));
            proof = HexFormat.of().parseHex(hello.substring(space + 1));
        } catch (IllegalArgumentException e) {
            return -1;
        }
        synchronized (this) {
            return claimed == attempt && MessageDigest.isEqual(proof, token) ? claimed : -1;
        }
    }

    private void readLines(InputStream in, int mine) throws IOException {
        while (true) {
            Line line = readLine(in, LINE_LIMIT);
            if (line == null) {
                return;
            }
            if (line.tooLong()) {
                console.println("omnispark: dropped a progress line of over " + LINE_LIMIT + " bytes");
                continue;
            }
            synchronized (this) {
                if (mine != attempt) {
                    staleLines.incrementAndGet();
                    continue;
                }
                handle(line.text());
            }
        }
    }

    private void handle(String line) {
        JsonNode o;
        try {
            o = JSON.readTree(line);
        } catch (IOException e) {
            console.println("omnispark: dropped a malformed progress line: " + e.getMessage());
            return;
        }
        if (o.has("log")) {
            console.println(o.get("log").asText());
        } else if (o.has("step")) {
            total = o.path("total").asLong(total);
            listener.onStep(new StepResult(o.get("step").asLong(), o.path("loss").asDouble(),
                    o.path("lr").asDouble(), o.path("grad_norm").asDouble(), o.path("tokens").asLong(),
                    o.path("step_ms").asDouble(), o.path("data_wait_ms").asDouble(),
                    ai.omnispark.trainer.job.MetricsLog.lossTerms(o), ai.omnispark.trainer.job.MetricsLog.metrics(o)),
                    total);
            lastStep = o.get("step").asLong();
        }
    }

    /** A line as read: its text, or null with {@code tooLong} when it was longer than the limit. */
    private record Line(String text, boolean tooLong) {}

    /**
     * One {@code \n}-terminated line of at most {@code limit} bytes, or null at the end of the
     * stream. A longer line is read to its end without being kept.
     */
    private static Line readLine(InputStream in, int limit) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        boolean over = false;
        while (true) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            if (b == '\n') {
                return over ? new Line(null, true) : new Line(line.toString(StandardCharsets.UTF_8), false);
            }
            if (line.size() >= limit) {
                over = true;
                line.reset();
                continue;
            }
            if (!over) {
                line.write(b);
            }
        }
    }

    /**
     * Waits (up to 10 s) until the line of {@code step} has arrived, or the current attempt's
     * connection has ended: the stage may end before the server has handled its last lines.
     */
    void drain(long step) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (lastStep < step && liveConnections > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing left to release
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        dropConnections();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
