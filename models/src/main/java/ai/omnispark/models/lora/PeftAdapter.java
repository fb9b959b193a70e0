package ai.omnispark.models.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.parallel.param.HostCopy;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorBytes;
import ai.omnispark.parallel.safetensors.TensorInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * A LoRA adapter as a PEFT folder, loadable by {@code PeftModel.from_pretrained}:
 * {@code adapter_model.safetensors} with {@code base_model.model.<linear>.lora_A.weight} [r, in] and
 * {@code .lora_B.weight} [out, r] in F32, and {@code adapter_config.json} ({@link PeftConfig}).
 * Internal parameter names ({@code <module>.lora_A.weight}, see {@link LoraAdapters}) become PEFT
 * keys through a name mapper the model family provides.
 */
public final class PeftAdapter {
    public static final String WEIGHTS = "adapter_model.safetensors";
    public static final String CONFIG = "adapter_config.json";
    /** What PEFT puts before a linear's name in an adapter's keys (the "default" adapter name dropped). */
    public static final String KEY_PREFIX = "base_model.model.";
    public static final String A_SUFFIX = ".lora_A.weight";
    public static final String B_SUFFIX = ".lora_B.weight";

    private static final ObjectMapper JSON = new ObjectMapper();

    private PeftAdapter() {}

    /** One adapter tensor: its shape and F32 values, row-major. */
    public record Tensor(long[] shape, float[] values) {}

    /** An adapter folder's contents: its config and its tensors by PEFT key. */
    public record Adapter(PeftConfig config, Map<String, Tensor> tensors) {}

    /**
     * Gathers the adapter units' weights (F32) under their PEFT keys, checking that each is A
     * [rank, in] or B [out, rank]. A host copy; under FSDP a collective: the other ranks of the shard
     * group call {@link #joinWeights} at the same point.
     *
     * @param toPeft internal parameter name to PEFT key ({@code base_model.model.<HF linear>.lora_A.weight})
     */
    public static SafeTensorsWriter weights(List<UnitLayout> adapterUnits, ParamStore params, NDManager manager,
            int rank, UnaryOperator<String> toPeft) {
        SafeTensorsWriter writer = new SafeTensorsWriter();
        writer.metadata(Map.of("format", "pt"));
        Set<String> keys = new HashSet<>();
        for (UnitLayout unit : adapterUnits) {
            for (ParamSpec p : unit.params()) {
                String key = toPeft.apply(p.name());
                checkKey(key, p.name());
                checkShape(key, p.shape().getShape(), rank, "parameter " + p.name());
                if (!keys.add(key)) {
                    throw new IllegalArgumentException("two adapter parameters map to PEFT key " + key);
                }
            }
        }
        for (Map.Entry<String, Tensor> t : gather(adapterUnits, params, manager).entrySet()) {
            writer.add(toPeft.apply(t.getKey()), SafeDType.F32, t.getValue().shape(),
                    TensorBytes.ofFloats(t.getValue().values()));
        }
        return writer;
    }

    /**
     * A host copy (F32) of the adapter units' weights by internal parameter name, in unit order; for
     * a family that writes its adapter under other names or in more than one form. Under FSDP a
     * collective: the other ranks of the shard group call {@link #joinWeights} at the same point.
     */
    public static Map<String, Tensor> gather(List<UnitLayout> adapterUnits, ParamStore params, NDManager manager) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (UnitLayout unit : adapterUnits) {
            try (NDManager scope = manager.newSubManager()) {
                NDArray flat = params.fullWeights(unit.name(), scope).toType(DataType.FLOAT32, false);
                for (ParamSpec p : unit.params()) {
                    float[] values = new float[HostCopy.arrayLength(p.name(), p.numel())];
                    HostCopy.read(flat, unit.offset(p.name()), values, 0, values.length);
                    tensors.put(p.name(), new Tensor(p.shape().getShape(), values));
                }
            }
        }
        return tensors;
    }

    /** A rank that does not write the adapter joins {@link #weights}' gathers (under FSDP), keeping nothing. */
    public static void joinWeights(List<UnitLayout> adapterUnits, ParamStore params) {
        for (UnitLayout unit : adapterUnits) {
            params.joinFullWeights(unit.name());
        }
    }

    /** Writes an adapter folder through {@code sink}: the weights, then adapter_config.json. */
    public static void write(PeftConfig config, SafeTensorsWriter weights, HfCheckpoint.FolderSink sink)
            throws IOException {
        try (OutputStream out = sink.create(WEIGHTS)) {
            weights.write(out);
        }
        try (OutputStream out = sink.create(CONFIG)) {
            out.write(config.toJson().toPrettyString().getBytes(StandardCharsets.UTF_8));
        }
    }

    /**
     * Reads {@code dir}/adapter_config.json.
     *
     * @throws IOException when the folder is not a PEFT LoRA adapter, saying why
     */
    public static PeftConfig readConfig(Path dir) throws IOException {
        Path file = dir.resolve(CONFIG);
        if (!Files.isRegularFile(file)) {
            throw new IOException(dir + " is not a PEFT adapter folder: it has no " + CONFIG);
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + " is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
        try {
            return PeftConfig.fromJson(root, file.toString());
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /**
     * Reads a whole adapter folder: config and F32 tensors, checking every key is
     * {@code base_model.model.<linear>.lora_A/B.weight}, A is [r, in] and B [out, r] with the
     * config's r, and each linear has both.
     */
    public static Adapter read(Path dir) throws IOException {
        PeftConfig config = readConfig(dir);
        Path file = weightsFile(dir);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            Map<String, TensorInfo> infos = checkedTensors(reader, file, config.lora().rank());
            for (TensorInfo t : infos.values()) {
                tensors.put(t.name(), new Tensor(t.shape(), reader.readFloats(t.name())));
            }
        }
        return new Adapter(config, Collections.unmodifiableMap(tensors));
    }

    /**
     * Loads {@code dir}'s adapter into the adapter units of {@code params}: every parameter must be
     * there under its PEFT key with its exact shape, and the file may hold nothing else.
     *
     * @return the folder's config
     */
    public static PeftConfig load(Path dir, List<UnitLayout> adapterUnits, ParamStore params, NDManager manager,
            UnaryOperator<String> toPeft) throws IOException {
        PeftConfig config = readConfig(dir);
        Path file = weightsFile(dir);
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            Map<String, TensorInfo> infos = checkedTensors(reader, file, config.lora().rank());
            Set<String> used = new HashSet<>();
            for (UnitLayout unit : adapterUnits) {
                float[] flat = new float[HostCopy.arrayLength(unit.name(), unit.numel())];
                for (ParamSpec p : unit.params()) {
                    String key = toPeft.apply(p.name());
                    TensorInfo info = infos.get(key);
                    if (info == null) {
                        throw new IOException(file + " lacks tensor " + key + " (parameter " + p.name() + ")");
                    }
                    if (!Arrays.equals(info.shape(), p.shape().getShape())) {
                        throw new IOException(file + ": tensor " + key + " has shape " + Arrays.toString(info.shape())
                                + ", the model needs " + p.shape());
                    }
                    reader.readFloats(key, 0, flat, (int) unit.offset(p.name()), (int) p.numel());
                    used.add(key);
                }
                try (NDManager scope = manager.newSubManager()) {
                    params.loadFullWeights(unit.name(), scope.create(flat, new Shape(flat.length)));
                }
            }
            for (String key : infos.keySet()) {
                if (!used.contains(key)) {
                    throw new IOException(file + " has tensor " + key + ", which matches no adapter of this model "
                            + "(target_modules " + config.lora().modules() + ")");
                }
            }
        }
        return config;
    }

    private static Path weightsFile(Path dir) throws IOException {
        Path file = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(file)) {
            String why = Files.isRegularFile(dir.resolve("adapter_model.bin"))
                    ? " (it has adapter_model.bin; only safetensors adapters are read)" : "";
            throw new IOException(dir + " is not a PEFT adapter folder: it has no " + WEIGHTS + why);
        }
        return file;
    }

    /** The file's tensors by key, after checking names, dtypes, shapes against r, and A/B pairs. */
    private static Map<String, TensorInfo> checkedTensors(SafeTensorsReader reader, Path file, int rank)
            throws IOException {
        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        for (TensorInfo t : reader.tensors()) {
            try {
                checkKey(t.name(), null);
                checkShape(t.name(), t.shape(), rank, "tensor");
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": " + e.getMessage(), e);
            }
            if (t.dtype() != SafeDType.F32) {
                throw new IOException(file + ": tensor " + t.name() + " is " + t.dtype().id()
                        + "; only F32 adapters are read");
            }
            infos.put(t.name(), t);
        }
        if (infos.isEmpty()) {
            throw new IOException(file + " holds no tensors");
        }
        for (TensorInfo t : infos.values()) {
            boolean isA = t.name().endsWith(A_SUFFIX);
            String linear = t.name().substring(0, t.name().length() - A_SUFFIX.length());
            TensorInfo other = infos.get(linear + (isA ? B_SUFFIX : A_SUFFIX));
            if (other == null) {
                throw new IOException(file + " has " + t.name() + " but not " + linear + (isA ? B_SUFFIX : A_SUFFIX));
            }
        }
        return infos;
    }

    private static void checkKey(String key, String parameterOrNull) {
        String of = parameterOrNull == null ? "" : " (parameter " + parameterOrNull + ")";
        if (key == null || !key.startsWith(KEY_PREFIX)
                || !(key.endsWith(A_SUFFIX) || key.endsWith(B_SUFFIX))
                || key.length() <= KEY_PREFIX.length() + A_SUFFIX.length()) {
            throw new IllegalArgumentException("PEFT key " + key + of + " is not " + KEY_PREFIX + "<linear>"
                    + A_SUFFIX + " or " + B_SUFFIX);
        }
    }

    /** A is [r, in], B is [out, r]. */
    private static void checkShape(String key, long[] shape, int rank, String what) {
        boolean isA = key.endsWith(A_SUFFIX);
        if (shape.length != 2 || (isA ? shape[0] : shape[1]) != rank) {
            throw new IllegalArgumentException(what + " " + key + " has shape " + Arrays.toString(shape) + "; with r = "
                    + rank + " it must be " + (isA ? "[" + rank + ", in]" : "[out, " + rank + "]"));
        }
    }
}
