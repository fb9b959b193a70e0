package ai.omnispark.parallel.mesh;

import ai.djl.ndarray.NDManager;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.fsdp.CommShardGroup;
import ai.omnispark.parallel.fsdp.ShardGroup;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The world's ranks laid out on named dimensions (e.g. dp_replicate × dp_shard × ulysses × ep),
 * row-major: the last dimension varies fastest, so ranks that differ only in the last coordinate
 * are adjacent. See docs/mesh.md for a picture.
 *
 * <p>The data-parallel position of a rank (which rows it reads, which shard of the batch it is)
 * comes from its {@link MeshDims#DP_REPLICATE}, {@link MeshDims#DP_SHARD} and {@link MeshDims#EP}
 * coordinates, never from its world rank: expert-parallel ranks are data-parallel ranks with rows of
 * their own (as in VeOmni and TorchTitan, where ep borrows data-parallel ranks), while ranks that
 * differ only in their {@link MeshDims#SP} coordinate read the same rows (Ulysses slices each row).
 *
 * <p>{@link #group} gives the sub-communicator over the ranks that share every coordinate except
 * the named ones; every rank must call it with the same dimensions, in the same order relative to
 * other collectives. The mesh owns the groups it creates and closes them; the world communicator
 * stays the caller's.
 */
public final class DeviceMesh implements AutoCloseable {
    private final Communicator world;
    private final String[] names;
    private final int[] sizes;
    private final Map<String, Communicator> groups = new LinkedHashMap<>();

    private DeviceMesh(Communicator world, String[] names, int[] sizes) {
        this.world = world;
        this.names = names;
        this.sizes = sizes;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The trainer's mesh: {@link MeshDims#ALL} with {@code replicate} × {@code shard} data-parallel
     * ranks and sp = ep = 1. Rank r then has dp_shard coordinate r % shard and dp_replicate r / shard.
     */
    public static DeviceMesh dataParallel(Communicator world, int replicate, int shard) {
        return of(world, replicate, shard, 1, 1);
    }

    /** The trainer's mesh: {@link MeshDims#ALL} with the given sizes, which must multiply to the world size. */
    public static DeviceMesh of(Communicator world, int replicate, int shard, int sp, int ep) {
        return builder().dim(MeshDims.DP_REPLICATE, replicate).dim(MeshDims.DP_SHARD, shard).dim(MeshDims.SP, sp)
                .dim(MeshDims.EP, ep).build(world);
    }

    public List<String> dimNames() {
        return List.of(names);
    }

    public int dimSize(String dim) {
        return sizes[index(dim)];
    }

    public int worldSize() {
        return world.size();
    }

    /** This rank's coordinates. */
    public int[] coords() {
        return coords(world.rank());
    }

    /** Coordinates of a global rank, one per dimension in mesh order. */
    public int[] coords(int rank) {
        if (rank < 0 || rank >= world.size()) {
            throw new IllegalArgumentException("rank " + rank + " outside [0, " + world.size() + ")");
        }
        int[] c = new int[sizes.length];
        for (int d = sizes.length - 1; d >= 0; d--) {
            c[d] = rank % sizes[d];
            rank /= sizes[d];
        }
        return c;
    }

    /** The global rank at the given coordinates. */
    public int rankOf(int... coords) {
        if (coords.length != sizes.length) {
            throw new IllegalArgumentException("expected " + sizes.length + " coordinates "
                    + Arrays.toString(names) + ", got " + Arrays.toString(coords));
        }
        int r = 0;
        for (int d = 0; d < sizes.length; d++) {
            if (coords[d] < 0 || coords[d] >= sizes[d]) {
                throw new IllegalArgumentException("coordinate " + names[d] + "=" + coords[d]
                        + " outside [0, " + sizes[d] + ")");
            }
            r = r * sizes[d] + coords[d];
        }
        return r;
    }

    /** This rank's coordinate along one dimension. */
    public int coord(String dim) {
        return coords()[index(dim)];
    }

    /**
     * This rank's index among the data-parallel ranks: its dp_replicate, dp_shard and ep coordinates
     * flattened row-major (replica-major, like the mesh). A mesh without one of those dimensions
     * counts it as size 1.
     */
    public int dataParallelRank() {
        return (dpCoord(MeshDims.DP_REPLICATE) * dpSize(MeshDims.DP_SHARD) + dpCoord(MeshDims.DP_SHARD))
                * dpSize(MeshDims.EP) + dpCoord(MeshDims.EP);
    }

    /** The number of data-parallel ranks: dp_replicate × dp_shard × ep (a missing dimension counts as 1). */
    public int dataParallelSize() {
        return dpSize(MeshDims.DP_REPLICATE) * dpSize(MeshDims.DP_SHARD) * dpSize(MeshDims.EP);
    }

    /** The number of ranks that share each row (Ulysses); 1 without an sp dimension. */
    public int sequenceParallelSize() {
        return dpSize(MeshDims.SP);
    }

    private int dpCoord(String dim) {
        return dimNames().contains(dim) ? coord(dim) : 0;
    }

    private int dpSize(String dim) {
        return dimNames().contains(dim) ? dimSize(dim) : 1;
    }

    /**
     * FSDP's collectives for the units every rank uses (all but the experts): units are sharded over
     * dp_shard × sp × ep, which also sums the gradients of ranks that hold the same rows in slices
     * (sp) and those of expert-parallel ranks; gradients are also summed over dp_replicate (HSDP; DDP
     * is dp_shard = 1); the job-wide sums and counts run over every rank. The communicators are this
     * mesh's groups, split from its world, so their ops share one comm thread in issue order; the
     * mesh closes them.
     */
    public ShardGroup dataParallelGroup(NDManager parent) {
        return new CommShardGroup(group(presentDims(MeshDims.DP_SHARD, MeshDims.SP, MeshDims.EP)),
                group(presentDims(MeshDims.DP_REPLICATE)), group(dimNames().toArray(new String[0])), parent);
    }

    /**
     * FSDP's collectives for units partitioned across {@code dim} (experts across ep: every
     * coordinate of {@code dim} holds other units): sharded over the data-parallel shard dims
     * except {@code dim} (dp_shard × sp for ep), summed over dp_replicate; "every rank" for its
     * sums is the ranks of this rank's coordinate on {@code dim}. The caller sums what differs
     * between coordinates (a gradient norm) over {@link #group}({@code dim}).
     */
    public ShardGroup partitionedGroup(String dim, NDManager parent) {
        index(dim);
        String[] shard = Arrays.stream(presentDims(MeshDims.DP_SHARD, MeshDims.SP, MeshDims.EP))
                .filter(d -> !d.equals(dim)).toArray(String[]::new);
        String[] world = dimNames().stream().filter(d -> !d.equals(dim)).toArray(String[]::new);
        return new CommShardGroup(group(shard), group(presentDims(MeshDims.DP_REPLICATE)), group(world), parent);
    }

    private String[] presentDims(String... dims) {
        return Arrays.stream(dims).filter(dimNames()::contains).toArray(String[]::new);
    }

    /**
     * The communicator over the ranks that share all coordinates of this rank except those of
     * {@code dims}; ranks are ordered row-major over {@code dims} in mesh order, so a group's
     * rank is the flattened coordinate within it.
     */
    public synchronized Communicator group(String... dims) {
        boolean[] free = new boolean[sizes.length];
        for (String d : dims) {
            free[index(d)] = true;
        }
        StringBuilder key = new StringBuilder();
        for (int d = 0; d < sizes.length; d++) {
            if (free[d]) {
                key.append(names[d]).append(',');
            }
        }
        Communicator g = groups.get(key.toString());
        if (g == null) {
            g = world.split(members(free));
            groups.put(key.toString(), g);
        }
        return g;
    }

    /** Global ranks of this rank's group over the free dimensions. */
    int[] members(boolean[] free) { // package-private for tests
        int[] mine = coords();
        List<Integer> out = new ArrayList<>();
        for (int r = 0; r < world.size(); r++) {
            int[] c = coords(r);
            boolean same = true;
            for (int d = 0; d < sizes.length && same; d++) {
                same = free[d] || c[d] == mine[d];
            }
            if (same) {
                out.add(r);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private int index(String dim) {
        for (int d = 0; d < names.length; d++) {
            if (names[d].equals(dim)) {
                return d;
            }
        }
        throw new IllegalArgumentException("no mesh dimension '" + dim + "'; dimensions are "
                + Arrays.toString(names));
    }

    /** Closes the groups this mesh created. */
    @Override
    public synchronized void close() {
        for (Communicator g : groups.values()) {
            g.close();
        }
        groups.clear();
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("DeviceMesh[");
        for (int d = 0; d < names.length; d++) {
            b.append(d == 0 ? "" : " x ").append(names[d]).append('=').append(sizes[d]);
        }
        return b.append(']').toString();
    }

    public static final class Builder {
        private final LinkedHashMap<String, Integer> dims = new LinkedHashMap<>();

        /** Adds the next dimension, slower-varying than every one added after it. */
        public Builder dim(String name, int size) {
            if (size < 1) {
                throw new IllegalArgumentException("dimension " + name + " must have size >= 1, got " + size);
            }
            if (dims.putIfAbsent(name, size) != null) {
                throw new IllegalArgumentException("dimension " + name + " given twice");
            }
            return this;
        }

        public DeviceMesh build(Communicator world) {
            if (dims.isEmpty()) {
                throw new IllegalArgumentException("a mesh needs at least one dimension");
            }
            long product = 1;
            for (int s : dims.values()) {
                product *= s;
            }
            if (product != world.size()) {
                throw new IllegalArgumentException("mesh dimensions " + dims + " multiply to "
                        + product + " but the world has " + world.size() + " ranks");
            }
            String[] names = dims.keySet().toArray(new String[0]);
            int[] sizes = dims.values().stream().mapToInt(Integer::intValue).toArray();
            return new DeviceMesh(world, names, sizes);
        }
    }
}
