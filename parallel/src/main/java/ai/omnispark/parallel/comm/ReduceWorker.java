package ai.omnispark.parallel.comm;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A second thread per TCP rank that combines received chunks while the comm thread keeps the
 * sockets busy. With reductions inline, every chunk reduced was time the sockets sat idle; with
 * them here the ring overlaps I/O and arithmetic the way gloo's device thread does.
 *
 * <p>Tasks run in submission order. A pass always {@link #drain}s before its op returns, even on
 * failure, so no task touches tensor memory after the caller has been told the op is over.
 */
final class ReduceWorker {
    private final ThreadPoolExecutor executor;
    private final Reducer reducer = new Reducer();
    private volatile Throwable failure;
    private volatile boolean cancelled;

    ReduceWorker(int rank) {
        this.executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                r -> {
                    Thread t = new Thread(r, "omnispark-comm-reduce-rank-" + rank);
                    t.setDaemon(true);
                    return t;
                });
    }

    /** Only for tasks running on this worker. */
    Reducer reducer() {
        return reducer;
    }

    /** Runs {@code task} after the earlier ones, then {@code done}, unless the pass was cancelled. */
    void submit(Runnable task, Runnable done) {
        executor.execute(() -> {
            if (!cancelled && failure == null) {
                try {
                    task.run();
                } catch (RuntimeException | Error e) {
                    failure = e;
                }
            }
            done.run();
        });
    }

    /** A task that failed, if any; the pass that sees it fails. */
    Throwable failure() {
        return failure;
    }

    /** Starts a pass: clears the previous pass's failure and cancellation. */
    void begin() {
        failure = null;
        cancelled = false;
    }

    /** Skips the pass's remaining tasks and waits until none is running. */
    void drain(boolean cancel) {
        if (cancel) {
            cancelled = true;
        }
        CountDownLatch idle = new CountDownLatch(1);
        try {
            executor.execute(idle::countDown);
            idle.await();
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // shut down: nothing runs any more
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    void close() {
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
