package ai.omnispark.parallel.comm;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/** A {@link Work} backed by a future that the comm thread completes. */
final class FutureWork implements Work {
    private final CompletableFuture<Void> future;

    FutureWork(CompletableFuture<Void> future) {
        this.future = future;
    }

    static Work failed(CommException e) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        f.completeExceptionally(e);
        return new FutureWork(f);
    }

    @Override
    public void await() {
        try {
            future.join();
        } catch (CompletionException e) {
            Throwable c = e.getCause();
            if (c instanceof CommException) {
                throw (CommException) c;
            }
            if (c instanceof RuntimeException) {
                throw (RuntimeException) c;
            }
            throw e;
        }
    }

    @Override
    public boolean isDone() {
        return future.isDone();
    }
}
