package ai.omnispark.models.api;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.engine.Batch;
import java.util.List;

/**
 * What a vision-language family offers for images given as Hugging Face's image processor returns
 * them ({@link Model#processorMedia}), e.g. to score a row exactly as transformers would see it.
 */
public interface ProcessorMedia {
    /** Floats per row of {@code pixel_values}: C · temporal_patch_size · patch_size². */
    int pixelRowElements();

    /**
     * The evaluation batch of one row of {@code ids} (one document, no labels) whose placeholder
     * runs take the images of {@code pixelValues} ([N, {@link #pixelRowElements}] row-major) with
     * {@code imageGridThw} (t, h, w) in patches each, in order; a clear error when they disagree.
     */
    Batch imageBatch(NDManager scope, int[] ids, float[] pixelValues, List<int[]> imageGridThw, DataType dtype);
}
