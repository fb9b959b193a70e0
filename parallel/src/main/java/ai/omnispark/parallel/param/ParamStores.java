package ai.omnispark.parallel.param;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.fsdp.FsdpParams;
import ai.omnispark.parallel.fsdp.PartitionedParams;
import ai.omnispark.parallel.fsdp.ShardGroup;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.mesh.MeshDims;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Builds a model's parameter store: one store per {@link Placement}, behind one {@link ParamStore}. */
public final class ParamStores {
    private ParamStores() {}

    /**
     * Every unit's weights from its deterministic initialisation, grouped by placement: whole on this
     * rank without a group, sharded over {@code dataGroup} (FSDP, HSDP, DDP as a shard group of one)
     * with one; trainable or frozen as the unit's {@link ParamSpec#trainable} flags say. Frozen units
     * keep one copy of their (sharded) weights and nothing else.
     *
     * @param reshardAfterForward under a group, free gathered weights after each use (false keeps
     *     them until the optimizer step)
     * @throws IllegalArgumentException for no units, a unit named twice, or a unit mixing trainable
     *     and frozen parameters
     */
    public static ParamStore build(NDManager parent, List<UnitLayout> units, DataType dtype, long seed,
            ShardGroup groupOrNull, boolean reshardAfterForward) {
        return build(parent, units, dtype, seed, null, groupOrNull, reshardAfterForward);
    }

    /**
     * As {@link #build(NDManager, List, DataType, long, ShardGroup, boolean)} on a mesh: units every
     * rank uses are sharded over {@code dataGroup} (the mesh's {@link DeviceMesh#dataParallelGroup});
     * units partitioned across a mesh dimension ({@link UnitLayout.Partition}, e.g. experts across ep)
     * go to a {@link PartitionedParams} store of their own: held only by their coordinate, sharded
     * over the rest of the data-parallel ranks ({@link DeviceMesh#partitionedGroup}).
     *
     * @param meshOrNull null: no unit is partitioned (every rank holds every unit)
     * @throws IllegalArgumentException also for a partition the mesh's dimension does not divide
     */
    public static ParamStore build(NDManager parent, List<UnitLayout> units, DataType dtype, long seed,
            DeviceMesh meshOrNull, ShardGroup dataGroup, boolean reshardAfterForward) {
        if (units.isEmpty()) {
            throw new IllegalArgumentException("a parameter store needs at least one unit");
        }
        Set<String> names = new HashSet<>();
        Map<Placement, List<UnitLayout>> byPlacement = new LinkedHashMap<>();
        List<String> shardDims = dataGroup == null ? List.of() : List.of(MeshDims.DP_SHARD);
        for (UnitLayout u : units) {
            if (!names.add(u.name())) {
                throw new IllegalArgumentException("unit " + u.name() + " is listed twice");
            }
            byPlacement.computeIfAbsent(Placement.of(u, shardDims), p -> new ArrayList<>()).add(u);
        }
        List<PlacementStore> stores = new ArrayList<>();
        try {
            for (Map.Entry<Placement, List<UnitLayout>> e : byPlacement.entrySet()) {
                boolean trainable = e.getKey().trainable();
                String dim = e.getKey().partitionDim();
                if (e.getKey().partitioned() && meshOrNull != null && meshOrNull.dimNames().contains(dim)) {
                    stores.add(new PartitionedParams(parent, e.getValue(), dtype, seed, e.getKey(),
                            meshOrNull.group(dim), meshOrNull.partitionedGroup(dim, parent), reshardAfterForward));
                    continue;
                }
                stores.add(dataGroup == null
                        ? new LocalParams(parent, e.getValue(), dtype, seed, trainable)
                        : new FsdpParams(parent, e.getValue(), dtype, seed, dataGroup, reshardAfterForward,
                                trainable));
            }
        } catch (RuntimeException e) {
            for (PlacementStore s : stores) {
                s.close();
            }
            throw e;
        }
        return new CompositeParams(units, stores);
    }
}
