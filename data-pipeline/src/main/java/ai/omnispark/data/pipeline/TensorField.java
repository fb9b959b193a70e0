package ai.omnispark.data.pipeline;

import ai.omnispark.data.latent.FloatTensor;

/**
 * A tensor field of a video_latent record as the record gives it: the values inline (a nested
 * array), or a safetensors file ({@code path}, relative to the input file) and optionally the
 * name of the tensor in it (null: the file's only tensor).
 */
public record TensorField(FloatTensor inline, String path, String tensorName) {
    public static TensorField of(FloatTensor tensor) {
        return new TensorField(tensor, null, null);
    }

    public static TensorField file(String path, String tensorName) {
        return new TensorField(null, path, tensorName);
    }
}
