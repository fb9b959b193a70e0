package ai.omnispark.models.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.Objective;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.decoder.PackedRows;
import ai.omnispark.models.decoder.TokenLoss;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.runtime.RankRandom;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Llama family as the trainer sees it through models/api. */
class LlmFamilyTest {
    private static final Path TINY = Path.of("..", "conf", "models", "tiny-qwen3.json");

    @Test
    void theReadmeModelComesFromItsConfigWithABlockSplitIntoAttentionAndMlp() throws IOException {
        try (Model model = ModelFamilies.load(TINY, ModelOptions.defaults())) {
            assertEquals("qwen3", model.family());
            assertEquals(259, model.vocabSize());
            List<String> names = model.trainingSegments().stream().map(Segment::name).toList();
            List<String> expected = new ArrayList<>(List.of("embed"));
            for (int i = 0; i < 4; i++) {
                expected.add("attn." + i);
                expected.add("mlp." + i);
            }
            expected.add("head.loss");
            assertEquals(expected, names);
            List<Segment> eval = model.evaluationSegments();
            assertEquals("head.logits", eval.get(eval.size() - 1).name());
            for (Segment s : model.trainingSegments()) {
                if (s.name().startsWith("attn.") || s.name().startsWith("mlp.")) {
                    assertEquals(List.of("layers." + s.name().substring(s.name().indexOf('.') + 1)), s.units());
                }
            }
            assertEquals(DecoderConfigJson.toJson(((DecoderLM) model).config(), "float16"), model.hfConfig("float16"));
        }
    }

    @Test
    void parallelizeRecomputesExactlyTheAttentionAndMlpSegmentsWhenAsked() throws IOException {
        try (Model model = ModelFamilies.load(TINY, ModelOptions.defaults())) {
            Parallelize.Plan off = model.parallelize().apply(model, null, false);
            Parallelize.Plan on = model.parallelize().apply(model, null, true);
            assertEquals(model.trainingSegments().stream().map(Segment::name).toList(),
                    on.segments().stream().map(Segment::name).toList());
            for (int i = 0; i < on.segments().size(); i++) {
                Segment s = on.segments().get(i);
                boolean block = s.name().startsWith("attn.") || s.name().startsWith("mlp.");
                assertEquals(block, on.recompute().recompute(i, s), s.name());
                assertEquals(false, off.recompute().recompute(i, s), s.name());
            }
        }
    }

    @Test
    void theObjectiveCountsLabelledTokensSeedsTheirInverseAndNamesItsTerm() {
        int[][] rows = PackedRows.columns(12, 11, 5);
        int seqLen = 12;
        List<Sample> samples = samples(rows, seqLen);
        long labelled = Arrays.stream(rows[1]).filter(l -> l != Sample.IGNORE).count();
        Objective objective = TokenLoss.crossEntropy();
        assertEquals("tokens", objective.normaliser());
        assertEquals(labelled, objective.normaliserCount(samples));
        try (RankContext rank = RankContext.single(1)) {
            rank.bindThread();
            try (NDManager scope = rank.manager().newSubManager()) {
                NDList seeds = objective.seeds(scope, 40, DataType.FLOAT32);
                assertEquals(1f / 40, seeds.singletonOrThrow().getFloat());
                assertEquals(java.util.Map.of("ce", 2.5),
                        objective.lossTerms(new NDList(scope.create(2.5f))));
            }
        }
    }

    /** The collator draws the dropout masks DecoderBatch draws, in the same order from the same stream. */
    @Test
    void theCollatorsDropoutMasksAreTheDirectOnes() {
        DecoderConfig config = TinyModels.tiny("qwen3", true, false, 0.25);
        int seqLen = 12;
        int[][] rows = PackedRows.columns(seqLen, config.vocabSize(), 3);
        try (RankContext rank = RankContext.single(1)) {
            rank.bindThread();
            try (DecoderLM model = new DecoderLM(config, AttentionImpl.EAGER);
                    NDManager scope = rank.manager().newSubManager()) {
                RankRandom viaCollator = new RankRandom(9, 1);
                RankRandom direct = new RankRandom(9, 1);
                Batch collated = model.collator().collate(scope, samples(rows, seqLen), DataType.FLOAT32, viaCollator);
                Batch built = DecoderBatch.build(scope, config, DataType.FLOAT32, 2, seqLen, rows[0], rows[1], rows[2],
                        rows[3]);
                DecoderBatch.addAttentionDropout(built, scope, config, DataType.FLOAT32, 2, seqLen, direct);
                for (int layer = 0; layer < config.numLayers(); layer++) {
                    String key = DecoderBatch.attentionDropoutMask(layer);
                    assertArrayEquals(built.get(key).toFloatArray(), collated.get(key).toFloatArray(), key);
                }
                assertArrayEquals(built.get(DecoderBatch.LABELS).toLongArray(),
                        collated.get(DecoderBatch.LABELS).toLongArray());
                assertEquals(direct.state(), viaCollator.state());
                Batch evaluation = model.collator().collate(scope, samples(rows, seqLen), DataType.FLOAT32, null);
                assertTrue(!evaluation.has(DecoderBatch.attentionDropoutMask(0)), "evaluation draws no dropout");
            }
        }
    }

    @Test
    void theStateDictAdapterMapsHfAndPeftNamesAndTiesTheHead() {
        try (DecoderLM tied = new DecoderLM(TinyModels.tiny("qwen3", true));
                DecoderLM untied = new DecoderLM(TinyModels.tiny("qwen3", false))) {
            String q = "model.layers.1.self_attn.q_proj.weight";
            assertEquals(q, tied.stateDictAdapter().toHf(q));
            assertEquals(q, tied.stateDictAdapter().fromHf(q));
            assertNull(tied.stateDictAdapter().fromHf("model.layers.9.self_attn.q_proj.weight"));
            assertEquals("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
                    tied.stateDictAdapter().toPeft("model.layers.1.self_attn.q_proj.lora_A.weight"));
            assertEquals(DecoderNames.EMBED, tied.stateDictAdapter().tiedTo(DecoderNames.LM_HEAD));
            assertNull(untied.stateDictAdapter().tiedTo(DecoderNames.LM_HEAD));
            assertEquals(DecoderNames.LM_HEAD, untied.stateDictAdapter().fromHf(DecoderNames.LM_HEAD));
        }
    }

    /** Rows of {@link TinyModels#packedRows} (ids, labels, positions, docs of two rows) as samples. */
    private static List<Sample> samples(int[][] rows, int seqLen) {
        List<Sample> samples = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            int from = r * seqLen;
            int to = from + seqLen;
            samples.add(Sample.tokens(Arrays.copyOfRange(rows[0], from, to), Arrays.copyOfRange(rows[1], from, to),
                    Arrays.copyOfRange(rows[2], from, to), Arrays.copyOfRange(rows[3], from, to)));
        }
        return samples;
    }
}
