package ai.omnispark.models.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.llm.DecoderConfig;
import ai.omnispark.models.llm.DecoderLM;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorInfo;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A model's weights as a HuggingFace folder: {@code config.json}, {@code generation_config.json}
 * and {@code model.safetensors} with exactly the HF parameter names, loadable by transformers.
 */
public final class HfCheckpoint {
    public static final String WEIGHTS = "model.safetensors";

    private HfCheckpoint() {}

    /** Opens a file of an export folder for writing; lets checkpoints write through Hadoop's FileSystem. */
    @FunctionalInterface
    public interface FolderSink {
        OutputStream create(String fileName) throws IOException;
    }

    /** Writes {@code params} of {@code model} to {@code dir} in {@code dtype} (F32 or F16). */
    public static void export(DecoderLM model, ParamStore params, NDManager manager, Path dir, SafeDType dtype)
            throws IOException {
        Files.createDirectories(dir);
        write(model.config(), weights(model, params, manager, dtype), dtype, name -> Files.newOutputStream(dir.resolve(name)));
    }

    /**
     * Gathers the full weights under their HF names, in {@code dtype} (F32 or F16). Under FSDP this
     * is a collective: every rank of the shard group must call it.
     */
    public static SafeTensorsWriter weights(DecoderLM model, ParamStore params, NDManager manager, SafeDType dtype) {
        if (dtype != SafeDType.F32 && dtype != SafeDType.F16) {
            throw new IllegalArgumentException("HF export writes F32 or F16, not " + dtype);
        }
        SafeTensorsWriter writer = new SafeTensorsWriter();
        writer.metadata(Map.of("format", "pt"));
        try (NDManager scope = manager.newSubManager()) {
            for (UnitLayout unit : model.units()) {
                NDArray flat = params.fullWeights(unit.name(), scope);
                for (ParamSpec p : unit.params()) {
                    long start = unit.offset(p.name());
                    NDArray slice = flat.get(start + ":" + (start + p.numel()));
                    writer.add(p.name(), dtype, p.shape().getShape(), bytes(slice, dtype));
                }
            }
        }
        return writer;
    }

    /** Writes an HF folder: weights, config.json and generation_config.json. */
    public static void write(DecoderConfig config, SafeTensorsWriter weights, SafeDType dtype, FolderSink sink)
            throws IOException {
        write(config, weights, dtype, Map.of(), sink);
    }

    /**
     * Writes an HF folder with {@code extraFiles} besides the model's own: the tokenizer's
     * {@code tokenizer.json} and {@code tokenizer_config.json}, which this module does not know.
     */
    public static void write(DecoderConfig config, SafeTensorsWriter weights, SafeDType dtype,
            Map<String, byte[]> extraFiles, FolderSink sink) throws IOException {
        for (Map.Entry<String, byte[]> f : extraFiles.entrySet()) {
            try (OutputStream out = sink.create(f.getKey())) {
                out.write(f.getValue());
            }
        }
        try (OutputStream out = sink.create(WEIGHTS)) {
            weights.write(out);
        }
        String torchDtype = dtype == SafeDType.F16 ? "float16" : "float32";
        try (OutputStream out = sink.create("config.json")) {
            out.write(HfConfig.toJson(config, torchDtype).toPrettyString().getBytes(StandardCharsets.UTF_8));
        }
        try (OutputStream out = sink.create("generation_config.json")) {
            out.write(HfConfig.generationConfig(config).toPrettyString().getBytes(StandardCharsets.UTF_8));
        }
    }

    private static ByteBuffer bytes(NDArray values, SafeDType dtype) {
        DataType target = dtype == SafeDType.F16 ? DataType.FLOAT16 : DataType.FLOAT32;
        NDArray typed = values.toType(target, false);
        ByteBuffer raw = typed.toByteBuffer();
        ByteBuffer le = ByteBuffer.allocate(raw.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        raw.order(ByteOrder.nativeOrder());
        if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
            le.put(raw);
        } else if (dtype == SafeDType.F16) {
            while (raw.hasRemaining()) {
                le.putShort(raw.getShort());
            }
        } else {
            while (raw.hasRemaining()) {
                le.putFloat(raw.getFloat());
            }
        }
        le.flip();
        return le;
    }

    /**
     * Loads the weights in {@code dir}/model.safetensors into {@code params}. Every parameter of the
     * model must be there with its exact shape; extra tensors are an error, except {@code lm_head.weight}
     * of a model with tied embeddings, which must then equal the embedding.
     */
    public static void load(DecoderLM model, ParamStore params, NDManager manager, Path dir) throws IOException {
        Path file = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(file)) {
            throw new IOException("no " + WEIGHTS + " in " + dir + " (sharded HF checkpoints are not supported yet)");
        }
        DecoderConfig config = model.config();
        try (SafeTensorsReader reader = SafeTensorsReader.open(file); NDManager scope = manager.newSubManager()) {
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            for (TensorInfo t : reader.tensors()) {
                tensors.put(t.name(), t);
            }
            Set<String> used = new HashSet<>();
            for (UnitLayout unit : model.units()) {
                float[] flat = new float[Math.toIntExact(unit.numel())];
                for (ParamSpec p : unit.params()) {
                    TensorInfo info = tensors.get(p.name());
                    if (info == null) {
                        throw new IOException(file + " lacks tensor " + p.name());
                    }
                    if (!java.util.Arrays.equals(info.shape(), p.shape().getShape())) {
                        throw new IOException(file + ": tensor " + p.name() + " has shape "
                                + java.util.Arrays.toString(info.shape()) + ", the config needs " + p.shape());
                    }
                    float[] values = floats(reader.read(p.name()), info.dtype(), p.name(), file);
                    System.arraycopy(values, 0, flat, Math.toIntExact(unit.offset(p.name())), values.length);
                    used.add(p.name());
                }
                params.loadFullWeights(unit.name(), scope.create(flat));
            }
            for (String name : tensors.keySet()) {
                if (!used.contains(name)) {
                    if (name.equals("lm_head.weight") && config.tieWordEmbeddings()) {
                        continue;
                    }
                    throw new IOException(file + " has tensor " + name + ", which a " + config.family()
                            + " model of this config does not have");
                }
            }
        }
    }

    private static float[] floats(ByteBuffer data, SafeDType dtype, String name, Path file) throws IOException {
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n;
        float[] out;
        switch (dtype) {
            case F32:
                n = b.remaining() / 4;
                out = new float[n];
                b.asFloatBuffer().get(out);
                return out;
            case F64:
                n = b.remaining() / 8;
                out = new float[n];
                for (int i = 0; i < n; i++) {
                    out[i] = (float) b.getDouble();
                }
                return out;
            case F16:
                n = b.remaining() / 2;
                out = new float[n];
                for (int i = 0; i < n; i++) {
                    out[i] = halfToFloat(b.getShort());
                }
                return out;
            case BF16:
                n = b.remaining() / 2;
                out = new float[n];
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((b.getShort() & 0xFFFF) << 16);
                }
                return out;
            default:
                throw new IOException(file + ": tensor " + name + " has dtype " + dtype + "; weights must be floating point");
        }
    }

    /** IEEE 754 half to float (Java 17 has no Float.float16ToFloat). */
    static float halfToFloat(short half) {
        int bits = half & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exponent = (bits >>> 10) & 0x1F;
        int mantissa = bits & 0x3FF;
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f;
            return sign != 0 ? -magnitude : magnitude;
        }
        if (exponent == 31) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }
}
