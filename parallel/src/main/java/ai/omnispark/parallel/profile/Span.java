package ai.omnispark.parallel.profile;

/**
 * One timed region, closed where it ends (try-with-resources). Spans opened on one thread must
 * close in reverse order, which try-with-resources guarantees: that is what makes them nest.
 */
public interface Span extends AutoCloseable {
    /** What a tracer that is not recording hands out: nothing allocated, nothing recorded. */
    Span NONE = () -> { };

    @Override
    void close();
}
