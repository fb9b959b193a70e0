package ai.omnispark.parallel.param;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.fsdp.SilentShardGroup;
import ai.omnispark.parallel.optim.AdamW;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A frozen unit (the base under an adapter) has its weights and nothing else: no gradient, no
 * decay mask, no reduction, no optimizer state, and it never changes; the trainable units around
 * it train exactly as they would in a store where every unit trains.
 */
class FrozenUnitsTest {
    private static final long SEED = 7;

    /** embed and adapter train; base (a matrix and a vector) is frozen. Uneven sizes pad FSDP shards. */
    static List<UnitLayout> units(boolean baseTrainable) {
        return List.of(
                new UnitLayout("embed", List.of(ParamSpec.of("embed.weight", Init.normal(0.02), 7, 5))),
                new UnitLayout("base", List.of(
                        new ParamSpec("base.w", new Shape(5, 6), Init.normal(0.5), true, baseTrainable),
                        new ParamSpec("base.bias", new Shape(6), Init.normal(0.1), false, baseTrainable))),
                new UnitLayout("adapter", List.of(ParamSpec.of("adapter.a", Init.normal(0.3), 2, 5),
                        ParamSpec.of("adapter.b", Init.normal(0.1), 3))));
    }

    static final List<UnitLayout> MIXED = units(false);
    static final List<UnitLayout> ALL_TRAINABLE = units(true);

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    /** A deterministic gradient for {@code unit} at {@code step}. */
    static float[] grad(UnitLayout unit, int step, int rank) {
        Random r = new Random(unit.name().hashCode() * 31L + step * 7L + rank);
        float[] g = new float[(int) unit.numel()];
        for (int i = 0; i < g.length; i++) {
            g[i] = (float) r.nextGaussian();
        }
        return g;
    }

    @Test
    void frozenUnitStaysBitIdenticalAndTrainableUnitsMatchTheAllTrainableStore() {
        AdamW.Config cfg = new AdamW.Config(0.9, 0.95, 1e-8, 0.1);
        try (ParamStore mixed = ParamStores.build(manager, MIXED, DataType.FLOAT32, SEED, null, true);
                ParamStore all = ParamStores.build(manager, ALL_TRAINABLE, DataType.FLOAT32, SEED, null, true);
                AdamW mixedOpt = new AdamW(manager, cfg);
                AdamW allOpt = new AdamW(manager, cfg)) {
            assertFalse(mixed.trainable("base"));
            assertTrue(mixed.trainable("embed") && mixed.trainable("adapter"));
            assertEquals(UnitLayout.names(MIXED), UnitLayout.names(mixed.layouts()), "model order, not placement order");
            float[] baseBefore = mixed.ownedWeights("base");
            assertArrayEquals(all.ownedWeights("base"), baseBefore, "same initialisation whatever the placement");
            for (int step = 1; step <= 3; step++) {
                try (NDManager scope = manager.newSubManager()) {
                    for (UnitLayout u : MIXED) {
                        NDArray g = scope.create(grad(u, step, 0));
                        // The frozen unit is handed a gradient anyway: it must be ignored.
                        mixed.accumulateGrad(u.name(), g);
                        // The reference trains base with a zero gradient, so the global norm is the same.
                        all.accumulateGrad(u.name(), u.name().equals("base") ? scope.zeros(g.getShape()) : g);
                    }
                    double mixedNorm = mixed.clipGradNorm(1.0);
                    double allNorm = all.clipGradNorm(1.0);
                    assertEquals(allNorm, mixedNorm, 0.0, "step " + step + ": the norm counts trainable units only");
                    assertTrue(mixedNorm > 1.0, "the test clips");
                    mixed.step(mixedOpt, 0.05);
                    all.step(allOpt, 0.05);
                }
            }
            for (String unit : List.of("embed", "adapter")) {
                assertArrayEquals(all.ownedWeights(unit), mixed.ownedWeights(unit), unit + " bit-identical");
                assertNotNull(mixedOpt.state(unit));
            }
            assertArrayEquals(baseBefore, mixed.ownedWeights("base"), "the frozen unit never changes");
            assertFalse(java.util.Arrays.equals(baseBefore, all.ownedWeights("base")),
                    "the reference decays base: the test would see a frozen unit that was stepped");
            assertNull(mixedOpt.state("base"), "no optimizer state for a frozen unit");
            assertEquals(3, mixedOpt.stepCount(), "one optimizer step per store step, however many placements");

            long e = MIXED.get(0).numel();
            long b = MIXED.get(1).numel();
            long a = MIXED.get(2).numel();
            // Trainable: weights, gradient, exp_avg, exp_avg_sq; frozen: weights only (fp32).
            assertEquals(4L * (4 * (e + a) + b), mixed.stateBytes(mixedOpt));
            // Held: weights, gradients and decay masks of the trainable units, the frozen unit's weights.
            assertEquals(4L * (3 * (e + a) + b), mixed.heldBytes());
        }
    }

    /**
     * A store of frozen units only, on one rank and as ranks of a sharded group, holds exactly its
     * own (padded) slice of the weights. Its group answers no collective, so this also shows that
     * taking a gradient, clipping and stepping reduce nothing.
     */
    @ParameterizedTest(name = "rank {0} of {1}")
    @CsvSource({"0,1", "0,3", "2,3"})
    void frozenOnlyStoreHoldsTheWeightsOfItsShardAndNothingElse(int rank, int world) {
        List<UnitLayout> frozen = List.of(MIXED.get(1), new UnitLayout("base2", List.of(
                new ParamSpec("base2.w", new Shape(4, 3), Init.normal(0.5), true, false))));
        try (ParamStore store = ParamStores.build(manager, frozen, DataType.FLOAT32, SEED,
                world == 1 ? null : new SilentShardGroup(rank, world), true);
                AdamW adamw = new AdamW(manager, new AdamW.Config(0.9, 0.95, 1e-8, 0.1))) {
            long local = 0;
            List<float[]> before = new ArrayList<>();
            for (UnitLayout u : frozen) {
                long shard = (u.numel() + world - 1) / world;
                assertEquals(shard, store.owned(u.name()).localLength(), u.name());
                local += shard;
                before.add(store.ownedWeights(u.name()));
            }
            assertEquals(4 * local, store.stateBytes(adamw), "fp32 weights of the shard only");
            assertEquals(4 * local, store.heldBytes(), "and nothing else is allocated");
            try (NDManager scope = manager.newSubManager()) {
                for (UnitLayout u : frozen) {
                    store.accumulateGrad(u.name(), scope.create(grad(u, 1, rank)));
                }
            }
            assertEquals(0.0, store.clipGradNorm(1.0));
            store.step(adamw, 0.1);
            for (int i = 0; i < frozen.size(); i++) {
                assertArrayEquals(before.get(i), store.ownedWeights(frozen.get(i).name()));
            }
            assertTrue(adamw.states().isEmpty());
            assertEquals(4 * local, store.stateBytes(adamw));
        }
    }

    @Test
    void aUnitMixingTrainableAndFrozenParametersIsRejectedByName() {
        List<UnitLayout> bad = List.of(new UnitLayout("block.3", List.of(
                ParamSpec.of("block.3.lora_A", Init.normal(0.1), 2, 4),
                new ParamSpec("block.3.w", new Shape(4, 4), Init.normal(0.1), true, false))));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ParamStores.build(manager, bad, DataType.FLOAT32, 1, null, true));
        assertTrue(e.getMessage().contains("block.3") && e.getMessage().contains("block.3.lora_A")
                && e.getMessage().contains("block.3.w"), e.getMessage());
        IllegalArgumentException direct = assertThrows(IllegalArgumentException.class,
                () -> new LocalParams(manager, MIXED, DataType.FLOAT32, 1));
        assertTrue(direct.getMessage().contains("unit base is frozen"), direct.getMessage());
    }
}
