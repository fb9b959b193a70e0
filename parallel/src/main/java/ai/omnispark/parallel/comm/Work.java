package ai.omnispark.parallel.comm;

/** A collective under way. Collectives run asynchronously so compute can overlap them. */
public interface Work {
    /**
     * Waits for completion.
     *
     * @throws CommException if the collective failed (peer gone, timeout, communicator closed)
     */
    void await();

    /** Whether the collective has finished, successfully or not. */
    boolean isDone();
}
