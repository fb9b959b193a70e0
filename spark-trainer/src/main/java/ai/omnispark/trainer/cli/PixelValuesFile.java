package ai.omnispark.trainer.cli;

import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.config.ConfigException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A safetensors file of images as Hugging Face's Qwen2-VL image processor returns them:
 * {@code pixel_values} F32 [N, C·tp·p·p] and {@code image_grid_thw} I64 [n, 3], with N the sum of
 * t·h·w. Every way the file can disagree with that (or with the model's patch size) is named.
 */
record PixelValuesFile(float[] pixelValues, List<int[]> grids) {
    static final String PIXEL_VALUES = "pixel_values";
    static final String IMAGE_GRID_THW = "image_grid_thw";

    /** Reads {@code file}, whose rows must hold {@code rowElements} floats each. */
    static PixelValuesFile read(Path file, int rowElements) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new ConfigException("--pixel-values " + file + " is not a file");
        }
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            TensorInfo pixels = tensor(reader, file, PIXEL_VALUES, SafeDType.F32, 2);
            TensorInfo grid = tensor(reader, file, IMAGE_GRID_THW, SafeDType.I64, 2);
            if (pixels.shape()[1] != rowElements) {
                throw new ConfigException(file + ": " + PIXEL_VALUES + " is " + Arrays.toString(pixels.shape())
                        + " but this model's patches hold C·temporal_patch_size·patch_size² = " + rowElements
                        + " floats per row");
            }
            if (grid.shape()[1] != 3) {
                throw new ConfigException(file + ": " + IMAGE_GRID_THW + " is " + Arrays.toString(grid.shape())
                        + ", expected [images, 3] (t, h, w)");
            }
            ByteBuffer g = reader.read(IMAGE_GRID_THW);
            List<int[]> grids = new ArrayList<>();
            long patches = 0;
            for (int i = 0; i < grid.shape()[0]; i++) {
                int[] thw = new int[3];
                for (int d = 0; d < 3; d++) {
                    long v = g.getLong();
                    if (v < 1 || v > Integer.MAX_VALUE) {
                        throw new ConfigException(file + ": " + IMAGE_GRID_THW + "[" + i + "] has " + v
                                + " at dimension " + d + "; t, h and w must be >= 1");
                    }
                    thw[d] = (int) v;
                }
                grids.add(thw);
                patches += (long) thw[0] * thw[1] * thw[2];
            }
            if (patches != pixels.shape()[0]) {
                throw new ConfigException(file + ": " + IMAGE_GRID_THW + " names " + patches + " patches (sum of t·h·w) "
                        + "but " + PIXEL_VALUES + " has " + pixels.shape()[0] + " rows");
            }
            return new PixelValuesFile(reader.readFloats(PIXEL_VALUES), grids);
        }
    }

    private static TensorInfo tensor(SafeTensorsReader reader, Path file, String name, SafeDType dtype, int dims) {
        TensorInfo t = reader.tensors().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow(
                () -> new ConfigException(file + " has no tensor '" + name + "'; it needs " + PIXEL_VALUES + " (F32 [N, "
                        + "C·tp·p·p]) and " + IMAGE_GRID_THW + " (I64 [n, 3]) as HF's image processor returns them"));
        if (t.dtype() != dtype || t.shape().length != dims) {
            throw new ConfigException(file + ": '" + name + "' is " + t.dtype().id() + " " + Arrays.toString(t.shape())
                    + ", expected " + dtype.id() + " with " + dims + " dimensions");
        }
        return t;
    }
}
