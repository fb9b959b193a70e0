package ai.omnispark.parallel.param;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.fsdp.FsdpParams;
import ai.omnispark.parallel.fsdp.SilentShardGroup;
import ai.omnispark.parallel.optim.AdamW;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A parameter store holds its fp32 weights, gradients and decay masks and nothing else (12 bytes
 * per element it owns): no Java-backed FLOAT64 copy of the initialisation or of the masks stays
 * attached to it. Its initial weights are those of the float64 initialisation rounded to fp32, and
 * its decay mask covers exactly the matrices, whichever rank of a sharded group it is.
 */
class ParamStoreMemoryTest {
    /** Uneven sizes, so the last FSDP shard is padded; decayed matrices between undecayed vectors. */
    private static final List<UnitLayout> UNITS = List.of(
            new UnitLayout("embed", List.of(ParamSpec.of("embed.weight", Init.normal(0.02), 7, 5))),
            new UnitLayout("layers.0", List.of(ParamSpec.of("layers.0.norm", Init.ones(), 5),
                    ParamSpec.of("layers.0.w", Init.normal(0.5), 5, 6),
                    ParamSpec.of("layers.0.bias", Init.normal(0.1), 6))),
            new UnitLayout("head", List.of(ParamSpec.of("head.norm", Init.ones(), 3))));

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    /** The unit's initial values computed in float64, one whole parameter at a time. */
    private static double[] reference(UnitLayout u, long seed) {
        double[] flat = new double[(int) u.numel()];
        for (ParamSpec p : u.params()) {
            double[] values = new double[(int) p.numel()];
            p.init().fill(values, seed, p.name());
            System.arraycopy(values, 0, flat, (int) u.offset(p.name()), values.length);
        }
        return flat;
    }

    @ParameterizedTest(name = "rank {0} of {1}")
    @CsvSource({"0,1", "0,3", "2,3"})
    void holdsOnlyWeightsGradientsAndMasksAndStartsFromTheInitialisation(int rank, int world) {
        long seed = 11;
        try (ParamStore store = world == 1 ? new LocalParams(manager, UNITS, DataType.FLOAT32, seed)
                : new FsdpParams(manager, UNITS, DataType.FLOAT32, seed, new SilentShardGroup(rank, world));
                AdamW adamw = new AdamW(manager, new AdamW.Config(0.9, 0.99, 1e-8, 0.25))) {
            long local = 0;
            for (UnitLayout u : UNITS) {
                local += store.owned(u.name()).localLength();
            }
            assertEquals(3 * 4 * local, store.heldBytes(),
                    "fp32 weights + gradients + decay masks of " + local + " local elements, nothing else");

            for (UnitLayout u : UNITS) {
                OwnedSlice o = store.owned(u.name());
                double[] want = reference(u, seed);
                float[] got = store.ownedWeights(u.name());
                assertEquals(o.length(), got.length);
                for (int i = 0; i < got.length; i++) {
                    assertEquals((float) want[(int) o.begin() + i], got[i], 0f, u.name() + "[" + (o.begin() + i) + "]");
                }
            }

            // With zero gradients AdamW only decays: w' = w (1 - lr wd) where the mask is 1, w elsewhere.
            double lr = 0.5;
            store.step(adamw, lr);
            for (UnitLayout u : UNITS) {
                OwnedSlice o = store.owned(u.name());
                double[] init = reference(u, seed);
                float[] got = store.ownedWeights(u.name());
                for (int i = 0; i < got.length; i++) {
                    long at = o.begin() + i;
                    boolean decays = false;
                    for (ParamSpec p : u.params()) {
                        decays |= p.decay() && at >= u.offset(p.name()) && at < u.offset(p.name()) + p.numel();
                    }
                    double want = (float) init[(int) at] * (decays ? 1 - lr * 0.25 : 1);
                    assertEquals(want, got[i], 1e-7 * Math.abs(want), u.name() + "[" + at + "] decays=" + decays);
                }
            }
        }
    }

    @ParameterizedTest(name = "chunk {0}")
    @CsvSource({"1", "4", "29", "1000"})
    void initialValuesInPartsEqualTheWholeInitialisation(int chunk) {
        for (UnitLayout u : UNITS) {
            double[] want = reference(u, 5);
            float[] got = new float[want.length];
            long[] next = {0};
            u.initialValues(5, chunk, (offset, values, length) -> {
                assertEquals(next[0], offset, "parts arrive in order");
                System.arraycopy(values, 0, got, (int) offset, length);
                next[0] += length;
            });
            assertEquals(want.length, next[0]);
            for (int i = 0; i < want.length; i++) {
                assertEquals((float) want[i], got[i], 0f, u.name() + "[" + i + "]");
            }
        }
    }
}
