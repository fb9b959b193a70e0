package ai.omnispark.parallel.runtime;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.omnispark.parallel.profile.Profiler;

/**
 * What one training rank owns: its rank and world size, its device, its own NDManager and its
 * profiler.
 *
 * <p>Ranks may be threads of one JVM (Spark local mode), so nothing here is static; the rank's
 * thread calls {@link #bindThread()} before it computes.
 */
public final class RankContext implements AutoCloseable {
    private final int rank;
    private final int worldSize;
    private final Device device;
    private final int threads;
    private final NDManager manager;
    private final Profiler profiler;

    private RankContext(Builder b) {
        this.rank = b.rank;
        this.worldSize = b.worldSize;
        this.device = b.device;
        this.threads = b.threads;
        this.manager = NDManager.newBaseManager(device, "PyTorch");
        manager.setName("rank-" + rank);
        this.profiler = new Profiler(rank, true);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A single-rank context on the CPU using {@code threads} intra-op threads. */
    public static RankContext single(int threads) {
        return builder().rank(0).worldSize(1).threads(threads).build();
    }

    public int rank() {
        return rank;
    }

    public int worldSize() {
        return worldSize;
    }

    public Device device() {
        return device;
    }

    public int threads() {
        return threads;
    }

    public NDManager manager() {
        return manager;
    }

    /** This rank's profiler: idle (free) until started for the profiled steps. */
    public Profiler profiler() {
        return profiler;
    }

    /**
     * Prepares the calling thread to compute for this rank: grad mode off by default (the engine
     * switches it on where it records) and libtorch's intra-op pool sized to this rank's share.
     * libtorch's pool is per process, so ranks sharing a JVM must agree on the count.
     */
    public void bindThread() {
        JniUtils.setGradMode(false);
        if (JniUtils.getNumThreads() != threads) {
            JniUtils.setNumThreads(threads);
        }
    }

    @Override
    public void close() {
        profiler.close();
        manager.close();
    }

    public static final class Builder {
        private int rank;
        private int worldSize = 1;
        private Device device = Device.cpu();
        private int threads = Math.max(1, Runtime.getRuntime().availableProcessors());

        public Builder rank(int rank) {
            this.rank = rank;
            return this;
        }

        public Builder worldSize(int worldSize) {
            this.worldSize = worldSize;
            return this;
        }

        public Builder device(Device device) {
            this.device = device;
            return this;
        }

        public Builder threads(int threads) {
            this.threads = threads;
            return this;
        }

        public RankContext build() {
            if (worldSize < 1) {
                throw new IllegalArgumentException("worldSize must be >= 1, got " + worldSize);
            }
            if (rank < 0 || rank >= worldSize) {
                throw new IllegalArgumentException(
                        "rank must be in [0, " + worldSize + "), got " + rank);
            }
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be >= 1, got " + threads);
            }
            return new RankContext(this);
        }
    }
}
