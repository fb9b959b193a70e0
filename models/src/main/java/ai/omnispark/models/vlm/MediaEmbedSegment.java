package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * Token embeddings [rows, seqLen, hidden] with the merger's tokens (its input, [N_merged, hidden])
 * in place of the image and video placeholders, in media order, as transformers' masked_scatter
 * puts them. One gather over the embeddings and the vision tokens stacked, so both get their
 * gradients; the index is built on the host from {@link VlmBatch#MEDIA_TOKEN_INDEX}, after checking
 * that it names exactly the placeholder positions of {@code input_ids}.
 */
final class MediaEmbedSegment implements Segment {
    private final Qwen2VlConfig config;

    MediaEmbedSegment(Qwen2VlConfig config) {
        this.config = config;
    }

    @Override
    public String name() {
        return "embed";
    }

    @Override
    public List<String> units() {
        return List.of(DecoderNames.EMBED_UNIT);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray ids = call.batch().get(TokenBatch.INPUT_IDS);
        NDArray text = JniUtils.embedding((PtNDArray) ids, (PtNDArray) call.param(DecoderNames.EMBED), false);
        NDArray media = inputs.singletonOrThrow();
        long merged = media.getShape().get(0);
        long[] tokenIds = ids.toLongArray();
        long[] at = call.batch().has(VlmBatch.MEDIA_TOKEN_INDEX)
                ? call.batch().get(VlmBatch.MEDIA_TOKEN_INDEX).toLongArray() : new long[0];
        checkPlaceholders(tokenIds, at, merged);
        if (merged == 0) {
            return new NDList(text);
        }
        Shape shape = text.getShape();
        int positions = tokenIds.length;
        long[] source = new long[positions];
        for (int i = 0; i < positions; i++) {
            source[i] = i;
        }
        for (int k = 0; k < at.length; k++) {
            source[(int) at[k]] = positions + k;
        }
        NDArray stacked = NDArrays.concat(new NDList(text.reshape(positions, config.hiddenSize()), media), 0);
        // Owned: the gather saves its index for backward.
        NDArray index = Ops.owned(call.manager().create(source), DataType.INT64);
        NDArray out = JniUtils.embedding((PtNDArray) index, (PtNDArray) stacked, false);
        return new NDList(out.reshape(shape));
    }

    /** {@code at} must list every image/video placeholder of {@code ids} once, one per vision token. */
    private void checkPlaceholders(long[] ids, long[] at, long merged) {
        int image = config.tokens().imageTokenId();
        int video = config.tokens().videoTokenId();
        long placeholders = 0;
        for (long id : ids) {
            placeholders += id == image || id == video ? 1 : 0;
        }
        if (placeholders != merged || at.length != merged) {
            throw new IllegalArgumentException("the batch has " + placeholders + " image/video placeholder tokens and "
                    + at.length + " entries in " + VlmBatch.MEDIA_TOKEN_INDEX + ", but the vision tower made " + merged
                    + " tokens; each placeholder takes one merged token (grid t*h*w / merge^2 per media)");
        }
        boolean[] seen = new boolean[ids.length];
        for (long p : at) {
            if (p < 0 || p >= ids.length || (ids[(int) p] != image && ids[(int) p] != video)) {
                throw new IllegalArgumentException(VlmBatch.MEDIA_TOKEN_INDEX + " names position " + p
                        + ", which is not an image/video placeholder of input_ids");
            }
            if (seen[(int) p]) {
                throw new IllegalArgumentException(VlmBatch.MEDIA_TOKEN_INDEX + " names position " + p + " twice");
            }
            seen[(int) p] = true;
        }
    }
}
