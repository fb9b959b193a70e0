package ai.omnispark.parallel.profile;

/**
 * One complete event ("X") of a rank's trace. Times are nanoseconds since the profiler's origin;
 * at most one argument, numeric ({@code argText} null) or text.
 */
record TraceEvent(String name, String category, long tid, long startNs, long durationNs, String argName,
        long argValue, String argText) {
    long endNs() {
        return startNs + durationNs;
    }
}
