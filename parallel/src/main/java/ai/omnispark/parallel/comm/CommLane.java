package ai.omnispark.parallel.comm;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The one comm thread of a rank's communicator family (a communicator and everything split from
 * it). One thread per family keeps every rank's ops in issue order, which is what lets
 * sub-communicators share connections without tags.
 *
 * <p>After the first failure the lane is poisoned: the peers are in unknown states, so every later
 * op fails at once instead of reading someone else's bytes.
 */
final class CommLane implements AutoCloseable {
    private final ThreadPoolExecutor executor;
    private final Reducer reducer;
    private final Runnable abort;
    private volatile CommException failure;
    private volatile boolean closed;

    /**
     * @param abort breaks the transport so that peers and the op under way notice at once; called
     *     on the first failure and on close, from any thread
     */
    CommLane(int globalRank, Runnable abort) {
        this.abort = abort;
        this.executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, "omnispark-comm-rank-" + globalRank);
                    t.setDaemon(true);
                    return t;
                });
        this.reducer = new Reducer();
    }

    /** Only for code running on the comm thread. */
    Reducer reducer() {
        return reducer;
    }

    /** Runs {@code body} on the comm thread after the ops issued before it. */
    Work submit(String op, int rank, Runnable body) {
        if (closed) {
            return FutureWork.failed(new CommException(op, rank, -1, "communicator is closed"));
        }
        CompletableFuture<Void> future = new CompletableFuture<>();
        try {
            executor.execute(new Task(op, rank, future, body));
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

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        abort.run();
        executor.shutdown();
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
                List<Runnable> never = executor.shutdownNow();
                for (Runnable r : never) {
                    ((Task) r).failClosed();
                }
                executor.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private final class Task implements Runnable {
        private final String op;
        private final int rank;
        private final CompletableFuture<Void> future;
        private final Runnable body;

        Task(String op, int rank, CompletableFuture<Void> future, Runnable body) {
            this.op = op;
            this.rank = rank;
            this.future = future;
            this.body = body;
        }

        void failClosed() {
            future.completeExceptionally(new CommException(op, rank, -1, "communicator closed"));
        }

        @Override
        public void run() {
            CommException earlier = failure;
            if (closed) {
                failClosed();
                return;
            }
            if (earlier != null) {
                future.completeExceptionally(new CommException(op, rank, earlier.peer(),
                        "communicator failed earlier: " + earlier.getMessage(), earlier));
                return;
            }
            try {
                body.run();
                future.complete(null);
            } catch (CommException e) {
                CommException reported = closed
                        ? new CommException(op, rank, e.peer(), "communicator closed", e) : e;
                fail(reported);
                future.completeExceptionally(reported);
            } catch (RuntimeException | Error e) {
                CommException wrapped = new CommException(op, rank, -1,
                        closed ? "communicator closed" : e.toString(), e);
                fail(wrapped);
                future.completeExceptionally(wrapped);
            }
        }
    }
}
