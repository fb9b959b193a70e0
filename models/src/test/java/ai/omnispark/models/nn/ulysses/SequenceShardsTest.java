package ai.omnispark.models.nn.ulysses;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The batch cut of each sp rank against the one-rank batch of the same rows padded by hand: two
 * rows of 5 tokens (two documents in the first) at P = 2 are padded to 6; rank r must read tokens
 * [3r, 3r + 3) of the ids, labels, label mask and rotary tables, the whole doc ids (padding -1), and
 * heads [2r, 2r + 2) of the attention-dropout mask, which both ranks draw alike from equal generators.
 */
class SequenceShardsTest {
    private static final int HEADS = 4;
    private static final Collator TOKENS = (scope, samples, dtype, random) -> {
        int[][] c = TokenBatch.columns(samples);
        int len = samples.get(0).length();
        Batch b = TokenBatch.build(scope, 300, 4, 10000.0, dtype, samples.size(), len, c[0], c[1], c[2], c[3]);
        if (random != null) {
            TokenBatch.addAttentionDropout(b, scope, 0.5, HEADS, 1, dtype, samples.size(), len, random);
        }
        return b;
    };

    private static List<Sample> rows() {
        return List.of(Sample.tokens(new int[] {1, 2, 3, 4, 5}, new int[] {2, 3, -100, 5, -100},
                new int[] {0, 1, 2, 0, 1}, new int[] {0, 0, 0, 1, 1}),
                Sample.tokens(new int[] {6, 7, 8, 9, 10}, new int[] {7, 8, 9, 10, -100},
                new int[] {0, 1, 2, 3, 4}, new int[] {0, 0, 0, 0, 0}));
    }

    /** The same rows padded as the class says padding is. */
    private static List<Sample> paddedRows() {
        return List.of(Sample.tokens(new int[] {1, 2, 3, 4, 5, 0}, new int[] {2, 3, -100, 5, -100, -100},
                new int[] {0, 1, 2, 0, 1, 0}, new int[] {0, 0, 0, 1, 1, -1}),
                Sample.tokens(new int[] {6, 7, 8, 9, 10, 0}, new int[] {7, 8, 9, 10, -100, -100},
                new int[] {0, 1, 2, 3, 4, 0}, new int[] {0, 0, 0, 0, 0, -1}));
    }

    @Test
    void eachRankReadsItsTokensTheWholeDocIdsAndItsHeads() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            Batch full = TOKENS.collate(m, paddedRows(), DataType.FLOAT32, new RankRandom(3, 0));
            for (int r = 0; r < 2; r++) {
                Batch local = new SequenceShards(TOKENS, r, 2, SequenceShards::tokenBatch)
                        .collate(m, rows(), DataType.FLOAT32, new RankRandom(3, 0));
                assertEquals(full.keys(), local.keys());
                String tokens = "{}:{}";
                assertArrayEquals(full.get(TokenBatch.INPUT_IDS).get(new NDIndex(":, " + tokens, 3 * r, 3 * r + 3))
                        .toLongArray(), local.get(TokenBatch.INPUT_IDS).toLongArray(), "input ids of rank " + r);
                for (String flat : List.of(TokenBatch.LABELS, TokenBatch.LABEL_MASK)) {
                    NDArray byRow = full.get(flat).reshape(2, 6).get(new NDIndex(":, " + tokens, 3 * r, 3 * r + 3));
                    assertArrayEquals(byRow.toType(DataType.FLOAT64, false).toDoubleArray(),
                            local.get(flat).toType(DataType.FLOAT64, false).toDoubleArray(), flat + " of rank " + r);
                }
                for (String rope : List.of(TokenBatch.COS, TokenBatch.SIN)) {
                    assertEquals(new Shape(2, 1, 3, 4), local.get(rope).getShape());
                    assertArrayEquals(full.get(rope).get(new NDIndex(":, :, " + tokens, 3 * r, 3 * r + 3))
                            .toFloatArray(), local.get(rope).toFloatArray(), rope + " of rank " + r);
                }
                assertArrayEquals(new long[] {0, 0, 0, 1, 1, -1, 0, 0, 0, 0, 0, -1},
                        local.get(TokenBatch.DOC_IDS).toLongArray(), "whole doc ids, padding -1");
                String mask = TokenBatch.attentionDropoutMask(0);
                assertEquals(new Shape(2, 2, 6, 6), local.get(mask).getShape());
                assertArrayEquals(full.get(mask).get(new NDIndex(":, {}:{}", 2 * r, 2 * r + 2)).toFloatArray(),
                        local.get(mask).toFloatArray(), "dropout heads of rank " + r);
            }
        }
    }

    @Test
    void anInputWithoutASplitIsNamed() {
        Collator extra = (scope, samples, dtype, random) -> TOKENS.collate(scope, samples, dtype, random)
                .put("mystery", scope.zeros(new Shape(1)));
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> new SequenceShards(extra, 0, 2, SequenceShards::tokenBatch).collate(m, rows(),
                            DataType.FLOAT32, null));
            assertTrue(e.getMessage().contains("'mystery'"), e.getMessage());
        }
    }
}
