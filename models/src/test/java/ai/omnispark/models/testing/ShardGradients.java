package ai.omnispark.models.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.parallel.fsdp.FsdpParams;
import ai.omnispark.parallel.param.OwnedSlice;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.List;
import java.util.Map;

/** The FSDP equivalence tests' check of one rank's gradient shards against a one-rank reference. */
public final class ShardGradients {
    private ShardGradients() {}

    /**
     * Asserts that every gradient element rank {@code rank} owns equals the reference's within
     * {@code relTol} × (|want| + the unit's largest reference gradient), so elements near zero are
     * judged on the unit's scale.
     *
     * @param reference one rank's full gradient of each unit, by unit name
     * @return the elements compared
     */
    public static long assertMatch(int rank, List<UnitLayout> units, FsdpParams params,
            Map<String, double[]> reference, double relTol) {
        long compared = 0;
        for (UnitLayout unit : units) {
            double[] ref = reference.get(unit.name());
            double largest = 0;
            for (double g : ref) {
                largest = Math.max(largest, Math.abs(g));
            }
            OwnedSlice o = params.owned(unit.name());
            float[] shard = params.gradShard(unit.name()).toFloatArray();
            for (long i = o.begin(); i < o.end(); i++) {
                double got = shard[(int) (i - o.begin())];
                double want = ref[(int) i];
                assertTrue(Math.abs(got - want) <= relTol * (Math.abs(want) + largest),
                        "rank " + rank + " " + unit.name() + "[" + i + "]: fsdp " + got + ", one rank " + want);
                compared++;
            }
        }
        return compared;
    }
}
