package ai.omnispark.models.wan;

import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.models.lora.PeftConfig;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsFormatException;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorBytes;
import ai.omnispark.parallel.safetensors.TensorInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bin/omnispark convert-lora}: a Wan LoRA adapter into the form the original Wan inference
 * side loads ("style B"), {@code diffusion_model.blocks.N.self_attn.q.lora_A.weight} …, as the source
 * article's script does: prefix {@code diffusion_model.} where missing and drop PEFT's
 * {@code .default.}. It also takes diffusers-named adapters ({@code base_model.model.blocks.N.attn1.to_q
 * .lora_A.weight}, PEFT's form; also with diffusers' {@code transformer.} prefix or none) and renames
 * them to the original names ({@link WanLoraNames}), since that side rejects
 * {@code diffusion_model.blocks.N.attn1.to_q…}. That format has no alpha, so alpha/r is folded into
 * every lora_B; A is copied unchanged. Output tensors are F32 (F16 and BF16 inputs widen exactly).
 */
public final class WanLoraConvert {
    /** What the inference side expects before every key. */
    public static final String PREFIX = "diffusion_model.";
    /** Appended to the input's stem to name the output beside it. */
    public static final String OUTPUT_SUFFIX = "_styleB.safetensors";

    private static final String SAFETENSORS = ".safetensors";
    /** Prefixes the input's keys may carry before the model's own names: inference, PEFT, diffusers pipelines. */
    private static final List<String> INPUT_PREFIXES = List.of(PREFIX, PeftAdapter.KEY_PREFIX, "transformer.");
    private static final ObjectMapper JSON = new ObjectMapper();

    private WanLoraConvert() {}

    /** The LoRA scale and where it came from (a file beside the input, or the flags). */
    public record Scale(int rank, double alpha, String source) {
        public double factor() {
            return alpha / rank;
        }
    }

    /** What a conversion wrote. */
    public record Result(Path output, int tensors, Scale scale, boolean renamed) {}

    /** {@code DIR/name.safetensors} → {@code DIR/name_styleB.safetensors}. */
    public static Path outputPath(Path input) {
        String name = input.getFileName().toString();
        if (!name.endsWith(SAFETENSORS) || name.length() == SAFETENSORS.length()) {
            throw new IllegalArgumentException(input + " is not a .safetensors file; convert-lora reads a LoRA adapter "
                    + "saved as safetensors (hf_ckpt/diffusion_pytorch_model.safetensors or adapter_model.safetensors)");
        }
        return input.resolveSibling(name.substring(0, name.length() - SAFETENSORS.length()) + OUTPUT_SUFFIX);
    }

    /**
     * The style-B key of an adapter key in any accepted form: original names with or without
     * {@code diffusion_model.} and {@code .default.}, or diffusers names with {@code base_model.model.},
     * {@code transformer.} or no prefix.
     *
     * @throws IllegalArgumentException when the key is no Wan linear's LoRA factor, naming it
     */
    public static String styleBKey(String key) {
        String body = key;
        for (String prefix : INPUT_PREFIXES) {
            if (body.startsWith(prefix)) {
                body = body.substring(prefix.length());
                break;
            }
        }
        if (!WanLoraNames.isLoraFactor(body)) {
            throw new IllegalArgumentException("key '" + key + "' is not a LoRA factor of a Wan linear (expected "
                    + "blocks.N.{self_attn|cross_attn}.{q|k|v|o|k_img|v_img}.lora_A/B[.default].weight, "
                    + "blocks.N.ffn.{0|2}.lora_A/B[.default].weight, or the diffusers names blocks.N.attn1.to_q…, "
                    + "optionally after diffusion_model., base_model.model. or transformer.)");
        }
        String original = WanLoraNames.isOriginal(body) ? body : WanLoraNames.toOriginal(body);
        return PREFIX + original.replace(".lora_A.default.weight", ".lora_A.weight")
                .replace(".lora_B.default.weight", ".lora_B.weight");
    }

    /**
     * alpha and r: from {@code adapter_config.json} beside the input, else an adapter {@code config.json}
     * beside it (what {@link WanLoraExport#writeHfCkpt} writes), else the flags. Flags given beside such
     * a file must agree with it.
     *
     * @param rankFlag {@code --rank}, or null
     * @param alphaFlag {@code --alpha}, or null
     */
    public static Scale scale(Path input, Integer rankFlag, Double alphaFlag) throws IOException {
        if ((rankFlag == null) != (alphaFlag == null)) {
            throw new IllegalArgumentException("give --alpha and --rank together (got only "
                    + (rankFlag == null ? "--alpha" : "--rank") + ")");
        }
        if (rankFlag != null && rankFlag <= 0) {
            throw new IllegalArgumentException("--rank must be > 0, got " + rankFlag);
        }
        if (alphaFlag != null && !(alphaFlag > 0 && alphaFlag < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("--alpha must be a finite number > 0, got " + alphaFlag);
        }
        Path dir = input.toAbsolutePath().getParent();
        String notAdapter = null;
        for (String name : List.of(PeftAdapter.CONFIG, WanLoraExport.HF_CKPT_CONFIG)) {
            Path file = dir.resolve(name);
            if (!Files.isRegularFile(file)) {
                continue;
            }
            JsonNode root;
            try {
                root = JSON.readTree(file.toFile());
            } catch (IOException e) {
                throw new IllegalArgumentException(file + " beside the input is not valid JSON: "
                        + e.getMessage().lines().findFirst().orElse(""), e);
            }
            if (root == null || !root.isObject() || !root.has("peft_type")) {
                // a model's config.json (a full fine-tune's hf_ckpt/) says nothing about an adapter
                notAdapter = file + " is not an adapter config (it has no peft_type)";
                continue;
            }
            PeftConfig config = PeftConfig.fromJson(root, file.toString());
            Scale fromFile = new Scale(config.lora().rank(), config.lora().alpha(), file.toString());
            if (rankFlag != null && (rankFlag != fromFile.rank() || alphaFlag != fromFile.alpha())) {
                throw new IllegalArgumentException("--rank " + rankFlag + " --alpha " + alphaFlag + " disagree with "
                        + file + " (r " + fromFile.rank() + ", lora_alpha " + fromFile.alpha() + "); drop the flags "
                        + "or the file");
            }
            return fromFile;
        }
        if (rankFlag != null) {
            return new Scale(rankFlag, alphaFlag, "--rank/--alpha");
        }
        throw new IllegalArgumentException("no LoRA alpha and rank for " + input + ": no " + PeftAdapter.CONFIG
                + " or adapter " + WanLoraExport.HF_CKPT_CONFIG + " beside it"
                + (notAdapter == null ? "" : " (" + notAdapter + ")") + "; give --alpha A --rank R");
    }

    /**
     * Converts {@code input} to {@link #outputPath}: every key renamed by {@link #styleBKey}, A copied,
     * B multiplied by alpha/r, after checking every factor has its pair, A is [r, in] and B [out, r].
     */
    public static Result convert(Path input, Integer rankFlag, Double alphaFlag) throws IOException {
        Path output = outputPath(input);
        if (!Files.isRegularFile(input)) {
            throw new IllegalArgumentException(input + " does not exist or is not a file");
        }
        Scale scale = scale(input, rankFlag, alphaFlag);
        Map<String, PeftAdapter.Tensor> out = new LinkedHashMap<>();
        Map<String, String> sourceOf = new LinkedHashMap<>();
        boolean renamed = false;
        try (SafeTensorsReader reader = open(input)) {
            if (reader.tensors().isEmpty()) {
                throw new IllegalArgumentException(input + " holds no tensors");
            }
            for (TensorInfo t : reader.tensors()) {
                String key = styleBKey(t.name());
                renamed |= !isOriginalNamed(t.name());
                String earlier = sourceOf.put(key, t.name());
                if (earlier != null) {
                    throw new IllegalArgumentException(input + ": tensors " + earlier + " and " + t.name()
                            + " both become " + key);
                }
                out.put(key, new PeftAdapter.Tensor(t.shape(), floats(reader, t, input)));
            }
        }
        for (Map.Entry<String, PeftAdapter.Tensor> e : out.entrySet()) {
            String key = e.getKey();
            boolean isA = key.endsWith(PeftAdapter.A_SUFFIX);
            String pair = key.substring(0, key.length() - PeftAdapter.A_SUFFIX.length())
                    + (isA ? PeftAdapter.B_SUFFIX : PeftAdapter.A_SUFFIX);
            if (!out.containsKey(pair)) {
                throw new IllegalArgumentException(input + " has " + sourceOf.get(key) + " but no matching lora_"
                        + (isA ? "B" : "A") + " (it would be " + pair + ")");
            }
            long[] shape = e.getValue().shape();
            if (shape.length != 2 || (isA ? shape[0] : shape[1]) != scale.rank()) {
                throw new IllegalArgumentException(input + ": tensor " + sourceOf.get(key) + " has shape "
                        + Arrays.toString(shape) + "; with r = " + scale.rank() + " (" + scale.source() + ") it must be "
                        + (isA ? "[" + scale.rank() + ", in]" : "[out, " + scale.rank() + "]"));
            }
        }
        float factor = (float) scale.factor();
        SafeTensorsWriter writer = new SafeTensorsWriter().metadata(Map.of("format", "pt"));
        for (Map.Entry<String, PeftAdapter.Tensor> e : out.entrySet()) {
            float[] values = e.getValue().values();
            if (e.getKey().endsWith(PeftAdapter.B_SUFFIX)) {
                for (int i = 0; i < values.length; i++) {
                    values[i] *= factor;
                }
            }
            writer.add(e.getKey(), SafeDType.F32, e.getValue().shape(), TensorBytes.ofFloats(values));
        }
        writer.write(output);
        return new Result(output, out.size(), scale, renamed);
    }

    private static boolean isOriginalNamed(String key) {
        String body = key.startsWith(PREFIX) ? key.substring(PREFIX.length()) : key;
        return WanLoraNames.isOriginal(body);
    }

    private static SafeTensorsReader open(Path input) throws IOException {
        try {
            return SafeTensorsReader.open(input);
        } catch (SafeTensorsFormatException e) {
            throw new IllegalArgumentException(input + " is not a safetensors file: " + e.getMessage(), e);
        }
    }

    /** The tensor widened to F32 (exact for F16 and BF16). */
    private static float[] floats(SafeTensorsReader reader, TensorInfo t, Path input) throws IOException {
        if (t.numel() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(input + ": tensor " + t.name() + " has " + t.numel()
                    + " elements, more than a LoRA factor that fits a Java array");
        }
        switch (t.dtype()) {
            case F32:
                return reader.readFloats(t.name());
            case F16:
            case BF16: {
                ByteBuffer b = reader.read(t.name()).order(ByteOrder.LITTLE_ENDIAN);
                float[] out = new float[(int) t.numel()];
                for (int i = 0; i < out.length; i++) {
                    short s = b.getShort();
                    out[i] = t.dtype() == SafeDType.F16 ? HfCheckpoint.halfToFloat(s)
                            : Float.intBitsToFloat((s & 0xFFFF) << 16);
                }
                return out;
            }
            default:
                throw new IllegalArgumentException(input + ": tensor " + t.name() + " is " + t.dtype().id()
                        + "; LoRA factors are read as F32, F16 or BF16");
        }
    }
}
