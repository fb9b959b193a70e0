package ai.omnispark.parallel.fsdp;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.ReduceOp;
import ai.omnispark.parallel.comm.Work;
import java.util.ArrayList;
import java.util.List;

/**
 * FSDP's collectives on communicators: gathers and reduce-scatters over the shard group, then
 * (HSDP) sums the reduced shard over the replicas. Plain FSDP has one replica; DDP is one rank per
 * shard group and every rank a replica.
 *
 * <p>All three communicators must be split from one parent, so that their ops run in issue order
 * on one comm thread: that is what lets the replica all-reduce be queued right behind the
 * reduce-scatter it depends on.
 *
 * <p>The transports view a tensor as one Java buffer, at most 2 GiB: a unit whose full tensor is
 * larger is gathered and reduce-scattered in pieces of at most {@link #MAX_OP_BYTES}, each through
 * a temporary laid out rank by rank, so a unit of any size that fits in memory works.
 */
public final class CommShardGroup implements ShardGroup {
    /** The most bytes one collective is given. */
    static final long MAX_OP_BYTES = 1L << 30;

    private final Communicator shard;
    private final Communicator replicate;
    private final Communicator world;
    private final NDManager manager;
    private final long maxOpBytes;

    public CommShardGroup(Communicator shard, Communicator replicate, Communicator world, NDManager parent) {
        this(shard, replicate, world, parent, MAX_OP_BYTES);
    }

    /** With pieces of at most {@code maxOpBytes} per collective (tests use a few bytes). */
    CommShardGroup(Communicator shard, Communicator replicate, Communicator world, NDManager parent,
            long maxOpBytes) {
        if (shard.size() * replicate.size() != world.size()) {
            throw new IllegalArgumentException("shard group of " + shard.size() + " x " + replicate.size()
                    + " replicas does not cover the world of " + world.size());
        }
        this.shard = shard;
        this.replicate = replicate;
        this.world = world;
        this.manager = parent.newSubManager();
        this.maxOpBytes = maxOpBytes;
    }

    @Override
    public int rank() {
        return shard.rank();
    }

    @Override
    public int size() {
        return shard.size();
    }

    @Override
    public Pending allGather(NDArray shardArray, NDArray full) {
        if (bytes(full) <= maxOpBytes) {
            Work w = shard.allGather(shardArray, full);
            return w::await;
        }
        long s = shardArray.size();
        int n = shard.size();
        Pieces pieces = new Pieces(manager.newSubManager());
        List<NDArray> gathered = new ArrayList<>();
        try {
            for (long a = 0; a < s; a += piece(full)) {
                long b = Math.min(s, a + piece(full));
                NDArray mine = pieces.own(shardArray.get(new NDIndex("{}:{}", a, b)));
                NDArray all = pieces.own(pieces.scope.zeros(new Shape(n * (b - a)), full.getDataType()));
                gathered.add(all);
                pieces.works.add(shard.allGather(mine, all));
            }
        } catch (RuntimeException e) {
            pieces.finish(null);
            throw e;
        }
        long piece = piece(full);
        return () -> pieces.finish(() -> {
            for (int i = 0; i < gathered.size(); i++) {
                long a = i * piece;
                long len = Math.min(s, a + piece) - a;
                for (int r = 0; r < n; r++) {
                    full.set(new NDIndex("{}:{}", r * s + a, r * s + a + len),
                            gathered.get(i).get(new NDIndex("{}:{}", r * len, (r + 1) * len)));
                }
            }
        });
    }

    @Override
    public Pending reduceScatterSum(NDArray full, NDArray shardArray) {
        if (bytes(full) <= maxOpBytes) {
            Work rs = shard.reduceScatter(full, shardArray, ReduceOp.SUM);
            if (replicate.size() == 1) {
                return rs::await;
            }
            // Queued behind the reduce-scatter on the same comm thread, so it sums the reduced shard.
            Work ar = replicate.allReduce(shardArray, ReduceOp.SUM);
            return () -> {
                rs.await();
                ar.await();
            };
        }
        long s = shardArray.size();
        int n = shard.size();
        Pieces pieces = new Pieces(manager.newSubManager());
        try {
            for (long a = 0; a < s; a += piece(full)) {
                long b = Math.min(s, a + piece(full));
                // Every rank's part [a, b) of its shard, side by side, as one reduce-scatter input.
                NDArray parts = pieces.own(pieces.scope.zeros(new Shape(n * (b - a)), full.getDataType()));
                for (int r = 0; r < n; r++) {
                    parts.set(new NDIndex("{}:{}", r * (b - a), (r + 1) * (b - a)),
                            pieces.own(full.get(new NDIndex("{}:{}", r * s + a, r * s + b))));
                }
                NDArray mine = pieces.own(shardArray.get(new NDIndex("{}:{}", a, b)));
                pieces.works.add(shard.reduceScatter(parts, mine, ReduceOp.SUM));
                if (replicate.size() > 1) {
                    pieces.works.add(replicate.allReduce(mine, ReduceOp.SUM));
                }
            }
        } catch (RuntimeException e) {
            pieces.finish(null);
            throw e;
        }
        return () -> pieces.finish(null);
    }

    private static long bytes(NDArray a) {
        return a.size() * a.getDataType().getNumOfBytes();
    }

    /** Elements of a shard per piece, so that a piece of every rank together stays within the limit. */
    private long piece(NDArray full) {
        return Math.max(1, maxOpBytes / full.getDataType().getNumOfBytes() / shard.size());
    }

    /** The collectives of one piecewise op and the temporaries and views they work on. */
    private static final class Pieces {
        final NDManager scope;
        final List<Work> works = new ArrayList<>();

        Pieces(NDManager scope) {
            this.scope = scope;
        }

        NDArray own(NDArray a) {
            a.attach(scope);
            return a;
        }

        /**
         * Waits for every piece (all of them, even after a failure: the comm thread may still write
         * into the temporaries), runs {@code then} if all succeeded, frees the temporaries, and
         * rethrows the first failure.
         */
        void finish(Runnable then) {
            RuntimeException failure = null;
            for (Work w : works) {
                try {
                    w.await();
                } catch (RuntimeException e) {
                    failure = failure == null ? e : failure;
                }
            }
            try {
                if (failure == null && then != null) {
                    then.run();
                }
            } finally {
                scope.close();
            }
            if (failure != null) {
                throw failure;
            }
        }
    }

    /**
     * Sums over every rank in float32, the widest floating type the transports reduce: loss and norm
     * sums to about 1e-7 relative. Counts go through {@link #countAll}, exact in 64-bit integers.
     */
    @Override
    public double sumAll(double value) {
        return sum(world, value);
    }

    @Override
    public double sumShards(double value) {
        return sum(shard, value);
    }

    @Override
    public long countAll(long count) {
        return reduce(world, count, ReduceOp.SUM);
    }

    /** The transports have no MIN: the minimum is minus the maximum of the negated values. */
    @Override
    public long minAll(long value) {
        if (value == Long.MIN_VALUE) {
            throw new IllegalArgumentException("minAll takes values above Long.MIN_VALUE, got " + value);
        }
        return -reduce(world, -value, ReduceOp.MAX);
    }

    private long reduce(Communicator over, long value, ReduceOp op) {
        if (over.size() == 1) {
            return value;
        }
        try (NDManager tmp = manager.newSubManager()) {
            NDArray a = tmp.create(new long[] {value});
            over.allReduce(a, op).await();
            return a.getLong(0);
        }
    }

    private double sum(Communicator over, double value) {
        if (over.size() == 1) {
            return value;
        }
        try (NDManager tmp = manager.newSubManager()) {
            NDArray a = tmp.create(new float[] {(float) value});
            over.allReduce(a, ReduceOp.SUM).await();
            return a.getFloat(0);
        }
    }
}
