package ai.omnispark.parallel.param;

import java.util.ArrayList;
import java.util.List;

/**
 * Where a unit's parameters live and whether they train: the mesh dimensions its flat tensor is
 * sharded over (empty: whole on every rank), the mesh dimension its units are partitioned across
 * ({@link UnitLayout.Partition}; "" when every rank holds every unit) and whether it gets gradients
 * and optimizer state. A unit is wholly trainable or wholly frozen; units of one placement share one
 * store.
 */
public record Placement(List<String> shardDims, boolean trainable, String partitionDim) {
    public Placement {
        if (shardDims == null) {
            throw new IllegalArgumentException("shardDims must not be null (empty: not sharded)");
        }
        if (partitionDim == null) {
            throw new IllegalArgumentException("partitionDim must not be null (\"\": not partitioned)");
        }
        shardDims = List.copyOf(shardDims);
    }

    /** A placement whose units every rank holds. */
    public Placement(List<String> shardDims, boolean trainable) {
        this(shardDims, trainable, "");
    }

    /**
     * The placement of {@code unit} sharded over {@code shardDims} (less its partition dimension),
     * partitioned as its layout says, trainable as its parameters say.
     */
    public static Placement of(UnitLayout unit, List<String> shardDims) {
        if (unit.partition() == null) {
            return new Placement(shardDims, trainable(unit));
        }
        String dim = unit.partition().dim();
        return new Placement(shardDims.stream().filter(d -> !d.equals(dim)).toList(), trainable(unit), dim);
    }

    /** Whether the units of this placement are partitioned across a mesh dimension. */
    public boolean partitioned() {
        return !partitionDim.isEmpty();
    }

    /**
     * Whether every parameter of {@code unit} trains ({@code true}) or none does ({@code false}).
     *
     * @throws IllegalArgumentException if the unit mixes trainable and frozen parameters, naming both
     */
    public static boolean trainable(UnitLayout unit) {
        List<String> trainable = new ArrayList<>();
        List<String> frozen = new ArrayList<>();
        for (ParamSpec p : unit.params()) {
            (p.trainable() ? trainable : frozen).add(p.name());
        }
        if (!trainable.isEmpty() && !frozen.isEmpty()) {
            throw new IllegalArgumentException("unit " + unit.name() + " mixes trainable parameters " + trainable
                    + " with frozen parameters " + frozen + "; a unit is wholly trainable or wholly frozen, so put "
                    + "the trainable ones (e.g. adapters) in a unit of their own");
        }
        return frozen.isEmpty();
    }

    /**
     * Rejects a unit whose parameters do not agree with a store built for {@code trainable} units,
     * naming the unit.
     */
    public static void requireTrainable(UnitLayout unit, boolean trainable) {
        if (trainable(unit) != trainable) {
            throw new IllegalArgumentException("unit " + unit.name() + " is " + (trainable ? "frozen" : "trainable")
                    + " but was given to a " + (trainable ? "trainable" : "frozen")
                    + " store; build stores with ParamStores.build, which groups units by placement");
        }
    }

    public boolean sharded() {
        return !shardDims.isEmpty();
    }
}
