package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.FrozenParts;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.engine.UnitParams;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.ParamStores;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The model's structure (units, segments, plan, freezing) and the vision tower's attention blocks. */
class Qwen2VlModelTest {
    private static RankContext rank;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    /** One FSDP unit per ViT block and per decoder layer; the parameter count is the units' sum. */
    @Test
    void unitsSegmentsAndPlan() {
        try (Qwen2VlModel model = TinyVlm.model(TinyVlm.json(false), "sdpa")) {
            assertEquals(List.of("visual.patch_embed", "visual.blocks.0", "visual.blocks.1", "visual.merger", "embed",
                    "layers.0", "layers.1", "head"), UnitLayout.names(model.units()));
            long sum = model.units().stream().mapToLong(UnitLayout::numel).sum();
            assertEquals(sum, model.parameterCount());
            assertEquals(List.of("visual.patch_embed", "visual.blocks.0", "visual.blocks.1", "visual.merger", "embed",
                    "attn.0", "mlp.0", "attn.1", "mlp.1", "head.loss"), names(model.trainingSegments()));
            assertEquals("head.logits", model.evaluationSegments().get(9).name());
            Parallelize.Plan plan = model.parallelize().apply(model, null, true);
            Set<String> recomputed = new HashSet<>();
            for (int i = 0; i < plan.segments().size(); i++) {
                if (plan.recompute().recompute(i, plan.segments().get(i))) {
                    recomputed.add(plan.segments().get(i).name());
                }
            }
            assertEquals(Set.of("visual.blocks.0", "visual.blocks.1", "attn.0", "mlp.0", "attn.1", "mlp.1"), recomputed);
            Parallelize.Plan none = model.parallelize().apply(model, null, false);
            for (int i = 0; i < none.segments().size(); i++) {
                assertFalse(none.recompute().recompute(i, none.segments().get(i)));
            }
        }
    }

    /**
     * Attention stays inside each frame group of each media: changing the second image's pixels
     * leaves the first image's vision token bit-identical, and changing the video's second frame
     * group leaves its first group's token so, while the changed media's tokens move.
     */
    @Test
    void visionAttentionNeverCrossesMediaOrFrameGroups() {
        try (Qwen2VlModel model = TinyVlm.model(TinyVlm.json(false), "sdpa");
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 7)) {
            VisionConfig v = model.config().vision();
            int h = model.config().hiddenSize();
            double[][] pixels = TinyVlm.pixels(v, 1);
            double[] base = TinyVlm.visionTokens(rank.manager(), model, params, DataType.FLOAT64, pixels);
            assertEquals(5 * h, base.length, "1 + 2 + 2 vision tokens");

            double[][] secondImage = copy(pixels);
            for (int p = 4; p < 12; p++) {
                secondImage[p][0] += 1;
            }
            double[] changed = TinyVlm.visionTokens(rank.manager(), model, params, DataType.FLOAT64, secondImage);
            assertArrayEquals(token(base, 0, h), token(changed, 0, h), "image A's token");
            assertFalse(Arrays.equals(token(base, 1, h), token(changed, 1, h)), "image B's tokens move");
            assertArrayEquals(token(base, 3, h), token(changed, 3, h), "the video's tokens");

            double[][] secondFrames = copy(pixels);
            for (int p = 16; p < 20; p++) {
                secondFrames[p][5] -= 1;
            }
            changed = TinyVlm.visionTokens(rank.manager(), model, params, DataType.FLOAT64, secondFrames);
            assertArrayEquals(token(base, 3, h), token(changed, 3, h), "the video's first frame group");
            assertFalse(Arrays.equals(token(base, 4, h), token(changed, 4, h)), "its second frame group moves");
        }
    }

    /**
     * Frozen parts (the frozen placement, stores from ParamStores.build): their units are not
     * trainable and hand the store no gradient, while the parts that train get the very gradients of
     * the unfrozen model, since gradients still flow through the frozen ones.
     */
    @Test
    void frozenPartsTakeNoGradientAndTheRestTheSame() {
        Qwen2VlConfig config = Qwen2VlConfigJson.parse(TinyVlm.json(false));
        double[][] pixels = TinyVlm.pixels(config.vision(), 2);
        for (FrozenParts freeze : List.of(new FrozenParts(true, false, false), new FrozenParts(false, true, true),
                new FrozenParts(true, true, false))) {
            try (Qwen2VlModel all = new Qwen2VlModel(config, AttentionImpl.SDPA, Attention.DEFAULT_BLOCK, 0,
                            FrozenParts.NONE);
                    Qwen2VlModel part = new Qwen2VlModel(config, AttentionImpl.SDPA, Attention.DEFAULT_BLOCK, 0, freeze);
                    LocalParams a = new LocalParams(rank.manager(), all.units(), DataType.FLOAT64, 4);
                    ParamStore b = ParamStores.build(rank.manager(), part.units(), DataType.FLOAT64, 4, null, false)) {
                TinyVlm.lossAndGrad(rank.manager(), all, a, DataType.FLOAT64, pixels, Recompute.none());
                Map<String, double[]> grads = new HashMap<>();
                try (NDManager scope = rank.manager().newSubManager()) {
                    Batch batch = TinyVlm.batch(scope, config, DataType.FLOAT64, pixels);
                    new SegmentEngine(part.trainingSegments(), part.units(), Recompute.none()).forwardBackward(scope,
                            batch, new NDList(), part.objective().seeds(scope, TinyVlm.labelled(), DataType.FLOAT64),
                            recording(b, grads));
                }
                for (UnitLayout u : part.units()) {
                    boolean frozen = u.name().equals("visual.merger") ? freeze.merger()
                            : u.name().startsWith("visual.") ? freeze.visionTower() : freeze.languageModel();
                    assertEquals(frozen, u.frozen(), u.name() + " under " + freeze);
                    assertEquals(!frozen, b.trainable(u.name()), u.name());
                    if (frozen) {
                        assertEquals(null, grads.get(u.name()), u.name() + " hands over no gradient");
                    } else {
                        double[] want = a.grad(u.name()).toDoubleArray();
                        double[] got = grads.get(u.name());
                        for (int i = 0; i < want.length; i++) {
                            assertEquals(want[i], got[i], 1e-12 * (1 + Math.abs(want[i])), u.name() + "[" + i + "]");
                        }
                        assertNotEquals(0.0, Arrays.stream(got).map(Math::abs).sum(), u.name());
                    }
                }
                assertTrue(part.describe().get(1).startsWith("frozen: "));
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new FrozenParts(true, true, true));
    }

    /** The family builds with the run's freeze flags (ModelOptions.frozen). */
    @Test
    void theFamilyFreezesWhatTheOptionsSay() {
        ModelOptions options = new ModelOptions("sdpa", 0, null, new FrozenParts(true, false, false));
        try (Model model = new Qwen2VlFamily().build(TinyVlm.json(false), options)) {
            for (UnitLayout u : model.units()) {
                assertEquals(u.name().startsWith("visual.") && !u.name().equals("visual.merger"), u.frozen(), u.name());
            }
            assertEquals("frozen: vision tower", model.describe().get(1));
        }
    }

    /** {@code store} for the engine, noting each non-null unit gradient it is handed. */
    private static UnitParams recording(ParamStore store, Map<String, double[]> grads) {
        return new UnitParams() {
            @Override
            public NDArray acquire(String unit, NDManager scope) {
                return store.acquire(unit, scope);
            }

            @Override
            public boolean trainable(String unit) {
                return store.trainable(unit);
            }

            @Override
            public void release(String unit) {
                store.release(unit);
            }

            @Override
            public void accumulateGrad(String unit, NDArray grad) {
                if (grad != null) {
                    grads.put(unit, grad.toType(DataType.FLOAT64, false).toDoubleArray());
                }
                store.accumulateGrad(unit, grad);
            }
        };
    }

    /** A micro-batch of text alone (no pixel_values, no placeholders) trains the language model; the vision units get zero gradients. */
    @Test
    void aTextOnlyBatchRunsWithoutTheVisionTower() {
        try (Qwen2VlModel model = TinyVlm.model(TinyVlm.json(false), "sdpa");
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 7);
                NDManager scope = rank.manager().newSubManager()) {
            Batch batch = textOnly(scope, model.config());
            SegmentEngine engine = new SegmentEngine(model.trainingSegments(), model.units(), Recompute.none());
            NDList out = engine.forwardBackward(scope, batch, new NDList(), model.objective().seeds(scope, 10,
                    DataType.FLOAT64), params);
            assertTrue(Double.isFinite(out.singletonOrThrow().getDouble()));
            assertEquals(0.0, Arrays.stream(params.grad("visual.merger").toDoubleArray()).map(Math::abs).sum());
            assertNotEquals(0.0, Arrays.stream(params.grad("layers.0").toDoubleArray()).map(Math::abs).sum());
        }
    }

    /** The vision tokens must fill exactly the placeholders: a media index naming a text position is named. */
    @Test
    void aMediaIndexOffThePlaceholdersIsNamed() {
        try (Qwen2VlModel model = TinyVlm.model(TinyVlm.json(false), "sdpa");
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 7);
                NDManager scope = rank.manager().newSubManager()) {
            Batch batch = TinyVlm.batch(scope, model.config(), DataType.FLOAT64,
                    TinyVlm.pixels(model.config().vision(), 1));
            batch.put(VlmBatch.MEDIA_TOKEN_INDEX, Ops.owned(scope.create(new long[] {2, 8, 10, 18, 19}), DataType.INT64));
            SegmentEngine engine = new SegmentEngine(model.evaluationSegments(), model.units(), Recompute.none());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> engine.forward(scope, batch, new NDList(), params));
            assertTrue(e.getMessage().contains(VlmBatch.MEDIA_TOKEN_INDEX + " names position 10"), e.getMessage());
        }
    }

    private static Batch textOnly(NDManager scope, Qwen2VlConfig c) {
        int[] ids = new int[2 * TinyVlm.SEQ];
        int[] labels = new int[ids.length];
        int[] positions = new int[ids.length];
        int[] docs = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 3 + i % 20;
            labels[i] = i % 3 == 0 ? 4 + i % 17 : ai.omnispark.models.nn.TokenBatch.IGNORE;
            positions[i] = i % TinyVlm.SEQ;
        }
        return ai.omnispark.models.nn.TokenBatch.build(scope, c.vocabSize(), c.headDim(), c.ropeTheta(),
                DataType.FLOAT64, 2, TinyVlm.SEQ, ids, labels, positions, docs);
    }

    private static List<String> names(List<Segment> segments) {
        return segments.stream().map(Segment::name).toList();
    }

    private static double[] token(double[] tokens, int k, int h) {
        return Arrays.copyOfRange(tokens, k * h, (k + 1) * h);
    }

    private static double[][] copy(double[][] a) {
        double[][] c = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }
}
