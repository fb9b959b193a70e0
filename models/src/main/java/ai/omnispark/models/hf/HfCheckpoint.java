package ai.omnispark.models.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.StateDictAdapter;
import ai.omnispark.models.lora.LoraAdapters;
import ai.omnispark.parallel.param.HostCopy;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorBytes;
import ai.omnispark.parallel.safetensors.TensorInfo;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model's weights as a HuggingFace folder: {@code config.json} (the model's
 * {@link Model#hfConfig}), {@code generation_config.json} and {@code model.safetensors} with the HF
 * names its {@link StateDictAdapter} gives, loadable by transformers. Any family.
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
    public static void export(Model model, ParamStore params, NDManager manager, Path dir, SafeDType dtype)
            throws IOException {
        Files.createDirectories(dir);
        write(model, weights(model, params, manager, dtype), dtype, name -> Files.newOutputStream(dir.resolve(name)));
    }

    /**
     * Gathers the full weights under their HF names, in {@code dtype} (F32 or F16), as a host copy
     * (a unit at a time, each parameter copied in parts, so a tensor of any size that fits in
     * memory works). A model with LoRA adapters writes each adapted linear merged,
     * W + alpha/rank * B A, so the folder loads like any other. Under FSDP this is a collective: the
     * other ranks of the shard group call {@link #joinWeights} at the same point.
     */
    public static SafeTensorsWriter weights(Model model, ParamStore params, NDManager manager, SafeDType dtype) {
        return weights(model, params, manager, dtype, true);
    }

    /**
     * As {@link #weights(Model, ParamStore, NDManager, SafeDType)}; with {@code mergeAdapters} false a
     * LoRA model writes its base weights as they are, without the adapters.
     */
    public static SafeTensorsWriter weights(Model model, ParamStore params, NDManager manager, SafeDType dtype,
            boolean mergeAdapters) {
        if (dtype != SafeDType.F32 && dtype != SafeDType.F16) {
            throw new IllegalArgumentException("HF export writes F32 or F16, not " + dtype);
        }
        SafeTensorsWriter writer = new SafeTensorsWriter();
        writer.metadata(Map.of("format", "pt"));
        StateDictAdapter names = model.stateDictAdapter();
        Map<String, UnitLayout> adapters = adapterUnits(model);
        for (UnitLayout unit : model.units()) {
            if (adapters.containsValue(unit)) {
                continue; // merged into its base unit below
            }
            UnitLayout adapter = mergeAdapters ? adapters.get(unit.name()) : null;
            try (NDManager scope = manager.newSubManager()) {
                NDArray flat = params.fullWeights(unit.name(), scope);
                Map<String, NDArray> lora = adapter == null ? Map.of()
                        : adapter.views(params.fullWeights(adapter.name(), scope));
                for (ParamSpec p : unit.params()) {
                    long start = unit.offset(p.name());
                    String module = p.name().endsWith(".weight")
                            ? p.name().substring(0, p.name().length() - ".weight".length()) : null;
                    NDArray a = module == null ? null : lora.get(LoraAdapters.loraA(module));
                    if (a == null) {
                        writer.add(names.toHf(p.name()), dtype, p.shape().getShape(), hostCopy(flat, start, p, dtype));
                        continue;
                    }
                    NDArray w = flat.get(new NDIndex("{}:{}", start, start + p.numel())).reshape(p.shape());
                    NDArray merged = LoraAdapters.merged(w, a, lora.get(LoraAdapters.loraB(module)),
                            model.lora().scale()).reshape(-1);
                    writer.add(names.toHf(p.name()), dtype, p.shape().getShape(), hostCopy(merged, 0, p, dtype));
                }
            }
        }
        return writer;
    }

    /**
     * A rank that does not write the HF weights takes part in {@link #weights}' gathers (under FSDP)
     * without keeping a copy, in the same order.
     */
    public static void joinWeights(Model model, ParamStore params) {
        joinWeights(model, params, true);
    }

    /** The other ranks' part in {@link #weights(Model, ParamStore, NDManager, SafeDType, boolean)}. */
    public static void joinWeights(Model model, ParamStore params, boolean mergeAdapters) {
        Map<String, UnitLayout> adapters = adapterUnits(model);
        for (UnitLayout unit : model.units()) {
            if (adapters.containsValue(unit)) {
                continue;
            }
            params.joinFullWeights(unit.name());
            UnitLayout adapter = mergeAdapters ? adapters.get(unit.name()) : null;
            if (adapter != null) {
                params.joinFullWeights(adapter.name());
            }
        }
    }

    /** The model's LoRA adapter units by the base unit they adapt; empty without LoRA. */
    public static Map<String, UnitLayout> adapterUnits(Model model) {
        Map<String, UnitLayout> adapters = new LinkedHashMap<>();
        if (model.lora() == null) {
            return adapters;
        }
        Map<String, UnitLayout> byName = new LinkedHashMap<>();
        for (UnitLayout u : model.units()) {
            byName.put(u.name(), u);
        }
        for (UnitLayout u : model.units()) {
            UnitLayout adapter = byName.get(LoraAdapters.unitOf(u.name()));
            if (adapter != null) {
                adapters.put(u.name(), adapter);
            }
        }
        return adapters;
    }

    /** Elements {@code [start, start + p.numel())} of {@code flat} as {@code dtype}'s little-endian bytes. */
    private static TensorBytes hostCopy(NDArray flat, long start, ParamSpec p, SafeDType dtype) {
        int n = HostCopy.arrayLength(p.name(), p.numel());
        NDArray fp32 = flat.toType(DataType.FLOAT32, false);
        if (dtype == SafeDType.F32) {
            float[] values = new float[n];
            HostCopy.read(fp32, start, values, 0, n);
            return TensorBytes.ofFloats(values);
        }
        short[] halves = new short[n];
        for (int done = 0; done < n; ) {
            int part = Math.min(HostCopy.CHUNK, n - done);
            try (NDArray slice = fp32.get(new NDIndex("{}:{}", start + done, start + done + part));
                    NDArray half = slice.toType(DataType.FLOAT16, true)) {
                half.toByteBuffer().order(ByteOrder.nativeOrder()).asShortBuffer().get(halves, done, part);
            }
            done += part;
        }
        return TensorBytes.ofShorts(halves);
    }

    /** Writes an HF folder: weights, config.json and generation_config.json. */
    public static void write(Model model, SafeTensorsWriter weights, SafeDType dtype, FolderSink sink)
            throws IOException {
        write(model, weights, dtype, Map.of(), sink);
    }

    /**
     * Writes an HF folder with {@code extraFiles} besides the model's own: the tokenizer's
     * {@code tokenizer.json} and {@code tokenizer_config.json}, which this module does not know.
     */
    public static void write(Model model, SafeTensorsWriter weights, SafeDType dtype,
            Map<String, byte[]> extraFiles, FolderSink sink) throws IOException {
        for (Map.Entry<String, byte[]> f : extraFiles.entrySet()) {
            try (OutputStream out = sink.create(f.getKey())) {
                out.write(f.getValue());
            }
        }
        try (OutputStream out = sink.create(model.hfWeightsFile())) {
            weights.write(out);
        }
        String torchDtype = dtype == SafeDType.F16 ? "float16" : "float32";
        try (OutputStream out = sink.create("config.json")) {
            out.write(model.hfConfig(torchDtype).toPrettyString().getBytes(StandardCharsets.UTF_8));
        }
        com.fasterxml.jackson.databind.node.ObjectNode generation = model.generationConfig();
        if (generation != null) {
            try (OutputStream out = sink.create("generation_config.json")) {
                out.write(generation.toPrettyString().getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    /**
     * Loads the weights in {@code dir}/model.safetensors into {@code params}. Every parameter of the
     * model must be there (under its HF name) with its exact shape; extra tensors are an error, except
     * one the adapter ties to another ({@link StateDictAdapter#tiedTo}, e.g. {@code lm_head.weight} of
     * a model with tied embeddings), which must then equal it.
     */
    public static void load(Model model, ParamStore params, NDManager manager, Path dir) throws IOException {
        List<Path> shards = weightFiles(model, dir);
        StateDictAdapter names = model.stateDictAdapter();
        List<SafeTensorsReader> readers = new java.util.ArrayList<>();
        try (NDManager scope = manager.newSubManager()) {
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            Map<String, SafeTensorsReader> readerOf = new HashMap<>();
            Map<String, Path> fileOf = new HashMap<>();
            for (Path shard : shards) {
                SafeTensorsReader r = SafeTensorsReader.open(shard);
                readers.add(r);
                for (TensorInfo t : r.tensors()) {
                    if (tensors.put(t.name(), t) != null) {
                        throw new IOException(shard + " holds tensor " + t.name() + ", which " + fileOf.get(t.name())
                                + " holds too");
                    }
                    readerOf.put(t.name(), r);
                    fileOf.put(t.name(), shard);
                }
            }
            Set<String> used = new HashSet<>();
            java.util.Collection<UnitLayout> adapters = adapterUnits(model).values();
            for (UnitLayout unit : model.units()) {
                if (adapters.contains(unit)) {
                    continue; // a base folder has no adapters: they keep their initial values (B = 0)
                }
                // The unit is assembled in a libtorch-owned tensor a part at a time: no Java array
                // or DJL buffer of a whole tensor, so a tensor of any size that fits in memory loads.
                try (NDManager unitScope = scope.newSubManager()) {
                    NDArray flat = unitScope.zeros(new Shape(unit.numel()), DataType.FLOAT32);
                    for (ParamSpec p : unit.params()) {
                        String hfName = names.toHf(p.name());
                        TensorInfo info = tensors.get(hfName);
                        if (info == null) {
                            StateDictAdapter.FusedSlice fused = names.fusedSlice(hfName);
                            TensorInfo whole = fused == null ? null : tensors.get(fused.tensor());
                            if (whole == null) {
                                throw new IOException(describe(dir, shards) + " lacks tensor " + hfName
                                        + (fused == null ? "" : " (and its fused form " + fused.tensor() + ")"));
                            }
                            Path file = fileOf.get(fused.tensor());
                            if (!java.util.Arrays.equals(whole.shape(), fused.tensorShape())) {
                                throw new IOException(file + ": fused tensor " + fused.tensor() + " has shape "
                                        + java.util.Arrays.toString(whole.shape()) + ", the config needs "
                                        + java.util.Arrays.toString(fused.tensorShape()));
                            }
                            copyInto(readerOf.get(fused.tensor()), whole, fused.offset(), p.numel(), flat,
                                    unit.offset(p.name()), file);
                            used.add(fused.tensor());
                            continue;
                        }
                        Path file = fileOf.get(hfName);
                        if (!java.util.Arrays.equals(info.shape(), p.shape().getShape())) {
                            throw new IOException(file + ": tensor " + hfName + " has shape "
                                    + java.util.Arrays.toString(info.shape()) + ", the config needs " + p.shape());
                        }
                        copyInto(readerOf.get(hfName), info, 0, info.numel(), flat, unit.offset(p.name()), file);
                        used.add(hfName);
                    }
                    params.loadFullWeights(unit.name(), flat);
                }
            }
            for (String name : tensors.keySet()) {
                if (!used.contains(name)) {
                    String tied = names.tiedTo(name);
                    if (tied != null && readerOf.containsKey(tied)) {
                        checkTied(readerOf.get(name), readerOf.get(tied), fileOf.get(name), name, tied,
                                names.tieReason());
                        continue;
                    }
                    throw new IOException(fileOf.get(name) + " has tensor " + name + ", which a " + model.family()
                            + " model of this config does not have");
                }
            }
        } finally {
            for (SafeTensorsReader r : readers) {
                r.close();
            }
        }
    }

    /**
     * The weight files of HF folder {@code dir}: the model's {@link Model#hfWeightsFile} itself, or
     * the shards its {@code .index.json} (HF's sharded layout) names in its weight_map.
     */
    static List<Path> weightFiles(Model model, Path dir) throws IOException {
        Path file = dir.resolve(model.hfWeightsFile());
        if (Files.isRegularFile(file)) {
            return List.of(file);
        }
        Path index = dir.resolve(model.hfWeightsFile() + ".index.json");
        if (!Files.isRegularFile(index)) {
            throw new IOException("no " + model.hfWeightsFile() + " (nor its sharded index " + index.getFileName()
                    + ") in " + dir);
        }
        com.fasterxml.jackson.databind.JsonNode map = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(index.toFile()).get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new IOException(index + " has no weight_map of tensor name -> shard file");
        }
        java.util.Set<Path> shards = new java.util.LinkedHashSet<>();
        for (com.fasterxml.jackson.databind.JsonNode f : map) {
            Path shard = dir.resolve(f.asText());
            if (!shard.normalize().startsWith(dir.normalize()) || !Files.isRegularFile(shard)) {
                throw new IOException(index + " names shard '" + f.asText() + "', which is not a file in " + dir);
            }
            shards.add(shard);
        }
        return List.copyOf(shards);
    }

    private static String describe(Path dir, List<Path> shards) {
        return shards.size() == 1 ? shards.get(0).toString() : dir + " (" + shards.size() + " shards)";
    }

    /**
     * A tied model has one matrix for two HF tensors (an embedding and its head); a folder that also
     * stores the second must store that same matrix, or loading would silently drop trained weights.
     */
    private static void checkTied(SafeTensorsReader reader, SafeTensorsReader tiedReader, Path file, String name,
            String tiedTo, String reason) throws IOException {
        TensorInfo head = reader.info(name);
        TensorInfo embed = tiedReader.info(tiedTo);
        String refusal = file + " has " + name + " ";
        String why = ", but " + reason;
        if (!java.util.Arrays.equals(head.shape(), embed.shape()) || head.dtype() != embed.dtype()) {
            throw new IOException(refusal + head.dtype() + java.util.Arrays.toString(head.shape()) + " and "
                    + tiedTo + " " + embed.dtype() + java.util.Arrays.toString(embed.shape()) + why);
        }
        long bytes = head.byteLength();
        int partBytes = (int) Math.min(bytes, (long) LOAD_PART * Float.BYTES);
        ByteBuffer headPart = ByteBuffer.allocate(Math.max(1, partBytes));
        ByteBuffer embedPart = ByteBuffer.allocate(Math.max(1, partBytes));
        long mismatch = -1;
        for (long done = 0; done < bytes && mismatch < 0; done += partBytes) {
            int n = (int) Math.min(partBytes, bytes - done);
            headPart.clear().limit(n);
            embedPart.clear().limit(n);
            reader.readInto(name, done, headPart);
            tiedReader.readInto(tiedTo, done, embedPart);
            int at = headPart.flip().mismatch(embedPart.flip());
            mismatch = at < 0 ? -1 : done + at;
        }
        if (mismatch >= 0) {
            long element = mismatch / head.dtype().byteSize();
            long columns = head.shape()[head.shape().length - 1];
            throw new IOException(refusal + "differing from " + tiedTo + " (first at row "
                    + element / columns + ", column " + element % columns + ")" + why);
        }
    }

    /** Elements per part when importing: 32 MiB of fp32. */
    private static final int LOAD_PART = 1 << 23;

    /**
     * Decodes elements {@code [from, from + numel)} of tensor {@code info} to fp32 in Java, a part at
     * a time, into {@code flat} from {@code at}.
     */
    private static void copyInto(SafeTensorsReader reader, TensorInfo info, long from, long numel, NDArray flat,
            long at, Path file) throws IOException {
        int size = info.dtype().byteSize();
        ByteBuffer part = ByteBuffer.allocate((int) Math.min(LOAD_PART, Math.max(1, numel)) * size);
        for (long done = 0; done < numel; ) {
            int n = (int) Math.min(LOAD_PART, numel - done);
            part.clear().limit(n * size);
            reader.readInto(info.name(), (from + done) * size, part);
            part.flip();
            float[] values = floats(part, info.dtype(), info.name(), file);
            HostCopy.write(values, 0, n, flat, at + done);
            done += n;
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
    public static float halfToFloat(short half) {
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
