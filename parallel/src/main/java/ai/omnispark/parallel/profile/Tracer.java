package ai.omnispark.parallel.profile;

/**
 * Opens spans. Code on a hot path calls it unconditionally: while not recording it returns
 * {@link Span#NONE} before building anything, so a disabled profile costs a field read per span.
 * Names and argument names should be constants or strings that exist anyway (a segment's name),
 * never built per call.
 */
public interface Tracer {
    /** Records nothing, ever. */
    Tracer NONE = new Tracer() {
        @Override
        public Span span(String name, String category) {
            return Span.NONE;
        }

        @Override
        public Span span(String name, String category, String argName, long argValue) {
            return Span.NONE;
        }

        @Override
        public Span span(String name, String category, String argName, String argValue) {
            return Span.NONE;
        }
    };

    /** A span of the calling thread. */
    Span span(String name, String category);

    /** A span with one numeric argument (shown in the trace viewer's details, e.g. bytes). */
    Span span(String name, String category, String argName, long argValue);

    /** A span with one text argument. */
    Span span(String name, String category, String argName, String argValue);
}
