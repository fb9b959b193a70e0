package ai.omnispark.trainer.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.wan.WanForward;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.job.RankAssembly;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * {@code bin/omnispark forward --model DIR --input IN.safetensors --out OUT.safetensors}: one DiT
 * forward of a diffusers folder (a wan model) on inputs named as diffusers' forward arguments
 * ({@code hidden_states} [B, C, F, H, W], {@code timestep} [B], {@code encoder_hidden_states}
 * [B, L, text_dim], optional {@code encoder_hidden_states_image}; F32, or timestep as I64), writing
 * {@code sample} F32 [B, out_channels, F, H, W]. Prints the output's path and shape.
 */
final class ForwardCommand {
    static final List<String> INPUTS = List.of("hidden_states", "timestep", "encoder_hidden_states",
            "encoder_hidden_states_image");

    private ForwardCommand() {}

    static int run(String[] argv, PrintStream out) throws Exception {
        Args args = Args.parse(argv, 0, List.of("model", "input", "out", "threads"));
        Path dir = Path.of(args.required("model"));
        Path input = Path.of(args.required("input"));
        Path output = Path.of(args.required("out"));
        if (!Files.isRegularFile(input)) {
            throw new ConfigException("--input " + input + " is not a file");
        }
        int threads = Integer.parseInt(args.option("threads", String.valueOf(Runtime.getRuntime().availableProcessors())));
        try (RankContext rank = RankContext.single(threads)) {
            rank.bindThread();
            try (RankAssembly loaded = RankAssembly.fromHf(dir, ModelOptions.defaults(), rank.manager(), DataType.FLOAT32);
                    NDManager scope = rank.manager().newSubManager();
                    SafeTensorsReader reader = SafeTensorsReader.open(input)) {
                if (!"wan".equals(loaded.model().family())) {
                    throw new ConfigException("forward runs a diffusion transformer; " + dir + " is a "
                            + loaded.model().family() + " model");
                }
                for (TensorInfo t : reader.tensors()) {
                    if (!INPUTS.contains(t.name())) {
                        throw new ConfigException(input + " holds '" + t.name() + "', which is no argument of the DiT's "
                                + "forward; it takes " + INPUTS);
                    }
                }
                NDArray hidden = tensor(scope, reader, input, "hidden_states", true);
                NDArray timestep = tensor(scope, reader, input, "timestep", true);
                NDArray text = tensor(scope, reader, input, "encoder_hidden_states", true);
                NDArray image = tensor(scope, reader, input, "encoder_hidden_states_image", false);
                NDArray sample;
                try {
                    sample = new WanForward(loaded.model()).sample(scope, loaded.params(), DataType.FLOAT32, hidden,
                            timestep, text, image);
                } catch (IllegalArgumentException e) {
                    throw new ConfigException(input + ": " + e.getMessage());
                }
                long[] shape = sample.getShape().getShape();
                float[] values = sample.toFloatArray();
                ByteBuffer bytes = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(values);
                new SafeTensorsWriter().add("sample", SafeDType.F32, shape, bytes).write(output);
                out.println("wrote sample " + Arrays.toString(shape) + " to " + output);
            }
        }
        return 0;
    }

    private static NDArray tensor(NDManager scope, SafeTensorsReader reader, Path file, String name, boolean required)
            throws java.io.IOException {
        TensorInfo info = reader.tensors().stream().filter(t -> t.name().equals(name)).findFirst().orElse(null);
        if (info == null) {
            if (required) {
                throw new ConfigException(file + " has no '" + name + "'; the DiT's forward needs hidden_states, "
                        + "timestep and encoder_hidden_states (and encoder_hidden_states_image for image-to-video)");
            }
            return null;
        }
        Shape shape = new Shape(info.shape());
        if (info.dtype() == SafeDType.F32) {
            return scope.create(reader.readFloats(name), shape);
        }
        if (info.dtype() == SafeDType.I64 && name.equals("timestep")) {
            ByteBuffer b = reader.read(name).order(ByteOrder.LITTLE_ENDIAN);
            float[] v = new float[(int) shape.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = b.getLong();
            }
            return scope.create(v, shape);
        }
        throw new ConfigException(file + ": '" + name + "' is " + info.dtype().id() + "; it must be F32"
                + (name.equals("timestep") ? " or I64" : ""));
    }
}
