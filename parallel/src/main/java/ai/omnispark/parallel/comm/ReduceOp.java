package ai.omnispark.parallel.comm;

/**
 * How {@link Communicator#allReduce} and {@link Communicator#reduceScatter} combine ranks' values.
 *
 * <p>{@link #AVG} on integer types divides the integer sum by the group size with Java's integer
 * division (truncation toward zero), so it is exact only when the sum is a multiple of the size.
 */
public enum ReduceOp {
    SUM,
    AVG,
    MAX
}
