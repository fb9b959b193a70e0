package ai.omnispark.data.latent;

import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import java.io.IOException;
import java.util.List;

/** One tensor of a safetensors file a latent record points at, as float32. */
public final class SafetensorsTensor {
    private SafetensorsTensor() {}

    /**
     * The tensor named {@code name} of {@code reader}, or its only tensor when {@code name} is null;
     * F32 is read as is, F64 narrowed to float32. Anything else (another dtype, a missing name, a
     * file of several tensors without a name) is an {@link IllegalArgumentException} saying which.
     */
    public static FloatTensor read(SafeTensorsReader reader, String name, String file) throws IOException {
        List<TensorInfo> tensors = reader.tensors();
        TensorInfo info;
        if (name == null || name.isEmpty()) {
            if (tensors.size() != 1) {
                throw new IllegalArgumentException(file + " holds " + tensors.size() + " tensors "
                        + tensors.stream().map(TensorInfo::name).limit(10).toList()
                        + "; name one with {path, tensor}");
            }
            info = tensors.get(0);
        } else {
            info = tensors.stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow(
                    () -> new IllegalArgumentException(file + " has no tensor '" + name + "'; it has "
                            + tensors.stream().map(TensorInfo::name).limit(10).toList()));
        }
        int[] shape = new int[info.shape().length];
        for (int i = 0; i < shape.length; i++) {
            if (info.shape()[i] > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(file + " tensor '" + info.name() + "' is too large");
            }
            shape[i] = (int) info.shape()[i];
        }
        float[] values = switch (info.dtype()) {
            case F32 -> reader.readFloats(info.name());
            case F64 -> {
                double[] d = reader.readDoubles(info.name());
                float[] f = new float[d.length];
                for (int i = 0; i < d.length; i++) {
                    f[i] = (float) d[i];
                }
                yield f;
            }
            default -> throw new IllegalArgumentException(file + " tensor '" + info.name() + "' is "
                    + info.dtype().id() + "; latent data takes F32 (or F64)");
        };
        return new FloatTensor(values, shape);
    }
}
