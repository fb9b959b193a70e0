package ai.omnispark.data.reader;

import java.time.Duration;

/**
 * How one rank reads a prepared dataset.
 *
 * @param seed {@code train.seed}; with the epoch it fixes the order
 * @param prefetchRows rows decoded ahead of the consumer (the bounded queue's capacity)
 * @param timeout longest wait for the prefetch thread before {@link ShardReader#next()} gives up
 */
public record ReaderOptions(int dpRank, int dpSize, long seed, int prefetchRows, Duration timeout) {
    public ReaderOptions {
        if (dpSize < 1 || dpRank < 0 || dpRank >= dpSize) {
            throw new IllegalArgumentException("need 0 <= dpRank < dpSize, got dpRank=" + dpRank + " dpSize=" + dpSize);
        }
        if (prefetchRows < 1) {
            throw new IllegalArgumentException("prefetchRows must be >= 1, got " + prefetchRows);
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
    }

    public static ReaderOptions of(int dpRank, int dpSize, long seed) {
        return new ReaderOptions(dpRank, dpSize, seed, 256, Duration.ofMinutes(5));
    }

    public ReaderOptions withPrefetchRows(int rows) {
        return new ReaderOptions(dpRank, dpSize, seed, rows, timeout);
    }

    public ReaderOptions withTimeout(Duration t) {
        return new ReaderOptions(dpRank, dpSize, seed, prefetchRows, t);
    }
}
