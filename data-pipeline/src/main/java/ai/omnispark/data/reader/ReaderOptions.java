package ai.omnispark.data.reader;

import java.time.Duration;

/**
 * How one rank reads a prepared dataset.
 *
 * @param seed {@code train.seed}; with the epoch it fixes the order
 * @param prefetchRows rows decoded ahead of the consumer (the bounded queue's capacity)
 * @param timeout longest wait for the prefetch thread before {@link ShardReader#next()} gives up
 * @param decodeThreads threads that turn a loaded record batch into rows; copying the int lists
 *     out of Arrow costs more than reading the file, so one thread caps throughput near 1 GB/s
 */
public record ReaderOptions(int dpRank, int dpSize, long seed, int prefetchRows, Duration timeout,
        int decodeThreads) {
    public ReaderOptions {
        if (dpSize < 1 || dpRank < 0 || dpRank >= dpSize) {
            throw new IllegalArgumentException("need 0 <= dpRank < dpSize, got dpRank=" + dpRank + " dpSize=" + dpSize);
        }
        if (prefetchRows < 1) {
            throw new IllegalArgumentException("prefetchRows must be >= 1, got " + prefetchRows);
        }
        if (decodeThreads < 1) {
            throw new IllegalArgumentException("decodeThreads must be >= 1, got " + decodeThreads);
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
    }

    public static ReaderOptions of(int dpRank, int dpSize, long seed) {
        int threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors() / 2));
        return new ReaderOptions(dpRank, dpSize, seed, 256, Duration.ofMinutes(5), threads);
    }

    public ReaderOptions withPrefetchRows(int rows) {
        return new ReaderOptions(dpRank, dpSize, seed, rows, timeout, decodeThreads);
    }

    public ReaderOptions withTimeout(Duration t) {
        return new ReaderOptions(dpRank, dpSize, seed, prefetchRows, t, decodeThreads);
    }

    public ReaderOptions withDecodeThreads(int threads) {
        return new ReaderOptions(dpRank, dpSize, seed, prefetchRows, timeout, threads);
    }
}
