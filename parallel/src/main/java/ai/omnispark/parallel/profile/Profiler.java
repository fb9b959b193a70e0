package ai.omnispark.parallel.profile;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The profile of one rank: spans of its own threads (the rank thread, its comm thread, any other
 * thread that opens a span on it) and, optionally, libtorch's per-op trace of the thread that
 * started it. Owned by the rank ({@code RankContext}); idle (every span is {@link Span#NONE})
 * except between {@link #start()} and {@link #stop()}.
 *
 * <p>libtorch's profiler (the legacy one DJL drives) is per thread: it records the ops of the
 * thread that enabled it, so ranks that share a JVM each trace their own ops at the same time
 * without seeing each other's. It must therefore be started and stopped on the same thread.
 */
public final class Profiler implements Tracer, AutoCloseable {
    private final int rank;
    private final boolean recordOps;
    /** {@code System.nanoTime()} and the Unix time in ns at the same moment: the trace's zero. */
    private final long originNano;
    private final long originUnixNs;
    private final List<TraceEvent> events = new ArrayList<>();
    private final Map<Long, String> threadNames = new LinkedHashMap<>();
    /** Bumped by every start: a span opened in an earlier window is dropped when it closes. */
    private volatile int window;
    private volatile boolean recording;
    private Thread owner;
    private TorchOps ops;

    /**
     * @param recordOps also trace libtorch's ops (each op a span with its input shapes) on the
     *     thread that calls {@link #start()}
     */
    public Profiler(int rank, boolean recordOps) {
        this.rank = rank;
        this.recordOps = recordOps;
        Instant now = Instant.now();
        this.originNano = System.nanoTime();
        this.originUnixNs = now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    public int rank() {
        return rank;
    }

    public boolean recording() {
        return recording;
    }

    /** Starts recording; the calling thread is the one whose libtorch ops are traced. */
    public synchronized void start() {
        if (recording) {
            throw new IllegalStateException("rank " + rank + ": the profiler is already recording");
        }
        owner = Thread.currentThread();
        nameThread(owner);
        if (recordOps) {
            ops = TorchOps.start();
        }
        window++;
        recording = true;
    }

    /** Stops recording; call on the thread that started it. Spans still open are dropped. */
    public synchronized void stop() throws IOException {
        if (!recording) {
            throw new IllegalStateException("rank " + rank + ": the profiler is not recording");
        }
        checkOwner("stop");
        recording = false;
        if (ops != null) {
            TorchOps o = ops;
            ops = null;
            events.addAll(o.stop(originNano));
            for (long tid : o.threads()) {
                threadNames.putIfAbsent(tid, "libtorch ops (torch thread " + (tid - TorchOps.TID_BASE) + ")");
            }
        }
    }

    /** Number of events recorded so far. */
    public synchronized int eventCount() {
        return events.size();
    }

    /** Writes what was recorded as a Chrome trace (pid = this rank); see {@link ChromeTrace}. */
    public synchronized void writeTo(OutputStream out) throws IOException {
        ChromeTrace.writeRank(out, rank, originUnixNs, events, threadNames, owner == null ? -1 : owner.getId());
    }

    /** Stops a recording left running (a failed step), discarding libtorch's part. */
    @Override
    public synchronized void close() {
        if (!recording) {
            return;
        }
        recording = false;
        if (ops != null && Thread.currentThread() == owner) {
            ops.abandon();
            ops = null;
        }
        // On another thread libtorch's recording cannot be stopped: the owner thread keeps it until
        // it ends, which is why the rank thread closes its context itself.
    }

    @Override
    public Span span(String name, String category) {
        return recording ? new Open(name, category, null, 0, null) : Span.NONE;
    }

    @Override
    public Span span(String name, String category, String argName, long argValue) {
        return recording ? new Open(name, category, argName, argValue, null) : Span.NONE;
    }

    @Override
    public Span span(String name, String category, String argName, String argValue) {
        return recording ? new Open(name, category, argName, 0, argValue) : Span.NONE;
    }

    private void checkOwner(String what) {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("rank " + rank + ": " + what + " the profiler on the thread that started "
                    + "it (" + owner.getName() + "), not on " + Thread.currentThread().getName()
                    + ": libtorch's op trace belongs to that thread");
        }
    }

    private void nameThread(Thread t) {
        threadNames.putIfAbsent(t.getId(), t.getName());
    }

    private synchronized void add(TraceEvent e, int openedIn, Thread thread) {
        if (recording && window == openedIn) {
            events.add(e);
            nameThread(thread);
        }
    }

    private final class Open implements Span {
        private final String name;
        private final String category;
        private final String argName;
        private final long argValue;
        private final String argText;
        private final int openedIn = window;
        private final Thread thread = Thread.currentThread();
        private final long start = System.nanoTime();

        Open(String name, String category, String argName, long argValue, String argText) {
            this.name = name;
            this.category = category;
            this.argName = argName;
            this.argValue = argValue;
            this.argText = argText;
        }

        @Override
        public void close() {
            long end = System.nanoTime();
            add(new TraceEvent(name, category, thread.getId(), start - originNano, end - start, argName, argValue,
                    argText), openedIn, thread);
        }
    }
}
