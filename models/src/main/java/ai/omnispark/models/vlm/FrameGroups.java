package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.SegmentCall;

/**
 * The vision tower's block-diagonal attention as document ids: patch j of the micro-batch belongs to
 * frame group g when it lies in the g-th run of {@link VlmBatch#VISION_SEGMENTS} (h * w patches per
 * temporal group of each media, in order), so the attention kernels' "same document" rule keeps
 * every group to itself, as transformers' cu_seqlens do.
 */
final class FrameGroups {
    private FrameGroups() {}

    /** int64 [1, patches] group ids; null when all patches form one group (no mask needed). */
    static NDArray docIds(SegmentCall call, long patches) {
        long[] counts = call.batch().get(VlmBatch.VISION_SEGMENTS).toLongArray();
        long total = 0;
        for (long c : counts) {
            if (c <= 0) {
                throw new IllegalArgumentException(VlmBatch.VISION_SEGMENTS + " holds a group of " + c + " patches");
            }
            total += c;
        }
        if (total != patches) {
            throw new IllegalArgumentException(VlmBatch.VISION_SEGMENTS + " counts " + total + " patches, "
                    + VlmBatch.PIXEL_VALUES + " holds " + patches);
        }
        if (counts.length == 1) {
            return null;
        }
        long[] ids = new long[(int) patches];
        int at = 0;
        for (int g = 0; g < counts.length; g++) {
            for (long i = 0; i < counts[g]; i++) {
                ids[at++] = g;
            }
        }
        // Owned: the kernels' masking saves what is built from these ids.
        return Ops.owned(call.manager().create(ids, new Shape(1, patches)), DataType.INT64);
    }
}
