package ai.omnispark.models.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.decoder.PackedRows;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The model's chunked loss head against the materialised head it replaced, through the engine in
 * fp32: loss and every unit's gradient (embedding, blocks, final norm, lm_head or the tied
 * embedding, which gets both its lookup's and the head's share) within 1e-5, with chunks that do
 * not divide the 18 tokens and ignored labels (document ends, padding) inside chunks.
 */
class ChunkedLossHeadTest {
    private static final int SEQ = 9;
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

    private static DecoderConfig config(String family, boolean tied) {
        return DecoderConfig.builder().family(family).vocabSize(50).hiddenSize(16).intermediateSize(24)
                .numLayers(2).numHeads(2).numKvHeads(1).headDim(8).tieWordEmbeddings(tied)
                .initializerRange(0.5).ropeTheta(100).bosTokenId(1).eosTokenId(2).build();
    }

    @ParameterizedTest(name = "{0} tied={1} chunk={2} recompute={3}")
    @CsvSource({"qwen3,true,5,false", "qwen3,true,5,true", "qwen3,false,5,false", "llama,false,4,true",
        "qwen2,true,1,false", "qwen3,false,0,false", "qwen3,true,18,false", "qwen3,false,100,true"})
    void matchesTheMaterialisedHead(String family, boolean tied, int chunk, boolean recompute) {
        DecoderLM model = new DecoderLM(config(family, tied), chunk);
        int[][] rows = PackedRows.columns(SEQ, model.config().vocabSize(), 3);
        Recompute mode = recompute ? Recompute.all() : Recompute.none();
        try (LocalParams chunked = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 9);
                LocalParams materialised = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 9)) {
            double a = TinyModels.lossAndGrad(rank.manager(), model, chunked, DataType.FLOAT32, SEQ, rows, mode);
            double b = TinyModels.lossAndGrad(rank.manager(), model, MaterialisedLossHead.trainingSegments(model),
                    materialised, DataType.FLOAT32, SEQ, rows, mode);
            assertEquals(b, a, 1e-5 * Math.abs(b), "loss");
            double worst = 0;
            for (UnitLayout unit : model.units()) {
                float[] got = chunked.grad(unit.name()).toFloatArray();
                float[] want = materialised.grad(unit.name()).toFloatArray();
                double largest = 0;
                for (float x : want) {
                    largest = Math.max(largest, Math.abs(x));
                }
                assertTrue(largest > 0, unit.name() + " got no gradient");
                for (int i = 0; i < want.length; i++) {
                    double error = Math.abs(got[i] - want[i]);
                    worst = Math.max(worst, error / (Math.abs(want[i]) + largest));
                    assertTrue(error <= 1e-5 * (Math.abs(want[i]) + largest),
                            unit.name() + "[" + i + "]: chunked " + got[i] + ", materialised " + want[i]);
                }
            }
            System.out.printf("%s tied=%s chunk=%d recompute=%s: loss %.8f vs %.8f, worst gradient error %.2e%n",
                    family, tied, chunk, recompute, a, b, worst);
        }
    }

    @Test
    void aNegativeChunkIsRefusedNamingTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DecoderLM(config("qwen3", true), -3));
        assertTrue(e.getMessage().contains("model.loss_chunk_tokens") && e.getMessage().contains("-3"), e.getMessage());
    }
}
