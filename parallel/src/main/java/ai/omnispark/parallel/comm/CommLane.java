package ai.omnispark.parallel.comm;

import ai.omnispark.parallel.profile.Span;
import ai.omnispark.parallel.profile.Tracer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one comm thread of a rank's communicator family (a communicator and everything split from
 * it). One thread per family keeps every rank's ops in issue order, which is what lets
 * sub-communicators share connections without tags.
 *
 * <p>After the first failure the lane is poisoned: the peers are in unknown states, so every later
 * op fails at once instead of reading someone else's bytes.
 */
final class CommLane implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CommLane.class);
    private final int globalRank;
    private final ThreadPoolExecutor executor;
    private final Reducer reducer;
    private final Runnable abort;
    private final Runnable release;
    private final Object state = new Object();
    private volatile CommException failure;
    private volatile boolean closed;
    /** Guarded by state: a task's body is running. */
    private boolean running;
    private volatile Thread thread;
    private volatile Tracer tracer = Tracer.NONE;

    /**
     * @param abort breaks the transport so that peers and the op under way notice at once; called
     *     on the first failure and on a close with ops in flight, from any thread
     */
    CommLane(int globalRank, Runnable abort) {
        this(globalRank, abort, abort);
    }

    /**
     * @param abort as above
     * @param release what a close with no op in flight or queued does instead (the in-process
     *     transport leaves its groups without breaking them for the peers)
     */
    CommLane(int globalRank, Runnable abort, Runnable release) {
        this.globalRank = globalRank;
        this.abort = abort;
        this.release = release;
        this.executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, "omnispark-comm-rank-" + globalRank);
                    t.setDaemon(true);
                    thread = t;
                    return t;
                });
        this.reducer = new Reducer();
    }

    /** Only for code running on the comm thread. */
    Reducer reducer() {
        return reducer;
    }

    /** Times every op run from now on as a span of the comm thread (with its bytes). */
    void traceTo(Tracer t) {
        this.tracer = t;
    }

    /**
     * Runs {@code body} on the comm thread after the ops issued before it; with {@code bytes} >= 0
     * it is traced as a span carrying them (the size of the whole tensor the op moves).
     */
    Work submit(String op, int rank, long bytes, Runnable body) {
        if (closed) {
            return FutureWork.failed(new CommException(op, rank, -1, "communicator is closed"));
        }
        CompletableFuture<Void> future = new CompletableFuture<>();
        try {
            executor.execute(new Task(op, rank, bytes, future, body));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            future.completeExceptionally(new CommException(op, rank, -1, "communicator is closed"));
        }
        return new FutureWork(future);
    }

    /** Marks the lane failed and breaks the transport; later ops fail at once. */
    void fail(CommException e) {
        if (failure == null) {
            failure = e;
            abort.run();
        }
    }

    boolean isClosed() {
        return closed;
    }

    /**
     * Closes the lane. With an op running or queued, the transport is aborted (the peers' matching
     * ops fail) and the ops fail; with nothing in flight the transport is only released, so peers
     * that go on without this rank are not disturbed. Returns only once the comm thread has
     * stopped, so that no op touches the callers' buffers any more.
     */
    @Override
    public void close() {
        boolean first;
        boolean busy;
        synchronized (state) {
            first = !closed;
            closed = true;
            busy = running || !executor.getQueue().isEmpty();
        }
        if (first) {
            if (busy) {
                abort.run();
            } else {
                release.run();
            }
        }
        executor.shutdown();
        if (Thread.currentThread() == thread) {
            return; // closed from an op's own thread: it finishes when that op returns
        }
        boolean interrupted = false;
        boolean nudged = false;
        int waited = 0;
        while (true) {
            try {
                if (executor.awaitTermination(5, TimeUnit.SECONDS)) {
                    break;
                }
                waited += 5;
                if (waited % 30 == 0) {
                    LOG.warn("rank {}: closing waits for the comm thread, whose op has not ended "
                            + "{} s after the close", globalRank, waited);
                }
                if (!nudged) {
                    // the op ignores the abort; interrupting fails it (and the queued ones).
                    // Even then we wait for it: returning earlier could let the caller free
                    // memory that the op still writes
                    nudged = true;
                    for (Runnable r : executor.shutdownNow()) {
                        ((Task) r).failClosed();
                    }
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private final class Task implements Runnable {
        private final String op;
        private final int rank;
        private final long bytes;
        private final CompletableFuture<Void> future;
        private final Runnable body;

        Task(String op, int rank, long bytes, CompletableFuture<Void> future, Runnable body) {
            this.op = op;
            this.rank = rank;
            this.bytes = bytes;
            this.future = future;
            this.body = body;
        }

        void failClosed() {
            future.completeExceptionally(new CommException(op, rank, -1, "communicator closed"));
        }

        @Override
        public void run() {
            synchronized (state) {
                if (closed) {
                    failClosed();
                    return;
                }
                running = true;
            }
            CommException outcome;
            try {
                outcome = runBody();
            } finally {
                synchronized (state) {
                    running = false;
                }
            }
            // completed only now, so that a caller that awaits its last op and then closes
            // finds the lane idle
            if (outcome == null) {
                future.complete(null);
            } else {
                future.completeExceptionally(outcome);
            }
        }

        /** Runs the op; returns its failure, or null. */
        private CommException runBody() {
            CommException earlier = failure;
            if (earlier != null) {
                return new CommException(op, rank, earlier.peer(),
                        "communicator failed earlier: " + earlier.getMessage(), earlier);
            }
            try (Span span = bytes >= 0 ? tracer.span(op, "comm", "bytes", bytes) : Span.NONE) {
                body.run();
                return null;
            } catch (CommException e) {
                CommException reported = closed
                        ? new CommException(op, rank, e.peer(), "communicator closed", e) : e;
                fail(reported);
                return reported;
            } catch (RuntimeException | Error e) {
                CommException wrapped = new CommException(op, rank, -1,
                        closed ? "communicator closed" : e.toString(), e);
                fail(wrapped);
                return wrapped;
            }
        }
    }
}
