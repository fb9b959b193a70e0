package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.CachedDecoding;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.models.nn.attention.KvCache;
import ai.omnispark.parallel.engine.Batch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Cached decoding of Qwen2-VL: the prompt (with its media) through the family's collator, then one
 * text token per step. As transformers' rope_deltas do, the first generated token takes M-RoPE
 * position max(prompt positions) + 1 on all three axes, and each next one the position after; a
 * step's batch is the collator's for that one token (no media, so the vision segments pass zero
 * patches) with its rotary tables set to that position.
 */
final class VlmDecoding implements CachedDecoding {
    private final Qwen2VlConfig config;
    private final Collator collator;

    VlmDecoding(Qwen2VlConfig config, Collator collator) {
        this.config = config;
        this.collator = collator;
    }

    @Override
    public Batch prompt(NDManager scope, Sample prompt, DataType dtype) {
        int[] ids = prompt.ints(Sample.INPUT_IDS);
        int[] docs = prompt.ints(Sample.DOC_IDS);
        if (Arrays.stream(docs).distinct().count() > 1) {
            throw new IllegalArgumentException("a decoding prompt is one document; its doc_ids hold "
                    + Arrays.stream(docs).distinct().count());
        }
        Batch batch = collator.collate(scope, List.of(prompt), dtype, null);
        int[][] positions = MropePositions.of(ids, docs, grids(prompt), config.tokens(),
                config.geometry().spatialMergeSize());
        int max = -1;
        for (int[] axis : positions) {
            for (int p : axis) {
                max = Math.max(max, p);
            }
        }
        KvCache.enable(batch, scope, max + 1L);
        return batch;
    }

    @Override
    public Batch next(NDManager scope, Batch previous, int token, DataType dtype) {
        long position = KvCache.nextPosition(previous);
        Batch batch = collator.collate(scope, List.of(Sample.tokens(new int[] {token}, new int[] {Sample.IGNORE},
                new int[1], new int[1])), dtype, null);
        int p = Math.toIntExact(position);
        NDList rope = MropeTables.build(scope, new int[][][] {{{p}, {p}, {p}}}, config.headDim(), config.ropeTheta(),
                config.mropeSections(), dtype);
        batch.put(TokenBatch.COS, rope.get(0));
        batch.put(TokenBatch.SIN, rope.get(1));
        KvCache.carry(previous, batch, scope);
        KvCache.enable(batch, scope, position + 1);
        return batch;
    }

    /** (t, h, w) in patches of each media of the prompt, in order. */
    private List<int[]> grids(Sample prompt) {
        List<int[]> grids = new ArrayList<>();
        if (prompt.has(Sample.MEDIA_SHAPES)) {
            for (int[] s : prompt.intRows(Sample.MEDIA_SHAPES)) {
                grids.add(PixelPatches.grid(s[0], s[1], s[2], config.geometry()));
            }
        }
        return grids;
    }
}
