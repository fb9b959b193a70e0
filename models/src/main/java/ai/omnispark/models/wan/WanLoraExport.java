package ai.omnispark.models.wan;

import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.models.lora.PeftConfig;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorBytes;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeSet;

/**
 * Writes a Wan LoRA adapter, held as host tensors under its diffusers parameter names
 * ({@code blocks.0.attn1.to_q.lora_A.weight} [r, in], {@code .lora_B.weight} [out, r], as
 * {@link PeftAdapter#gather} returns them), in the two forms a Wan LoRA run leaves behind:
 * <ul>
 *   <li>{@link #writeHfCkpt}: the checkpoint's {@code hf_ckpt/} as the source article shows it, the
 *   original Wan naming with PEFT's adapter name, {@code diffusion_pytorch_model.safetensors} holding
 *   {@code blocks.{i}.{self_attn|cross_attn}.{q|k|v|o}.lora_{A|B}.default.weight} and
 *   {@code blocks.{i}.ffn.{0|2}.lora_{A|B}.default.weight} (I2V: {@code cross_attn.k_img/v_img}),
 *   beside a {@code config.json} describing the adapter ({@link #hfCkptConfig});</li>
 *   <li>{@link #writePeft}: {@code final_lora/} in PEFT's diffusers form, {@code adapter_model.safetensors}
 *   with {@code base_model.model.blocks.{i}.attn1.to_q.lora_A.weight} … and
 *   {@code adapter_config.json}.</li>
 * </ul>
 * Both are F32. {@code bin/omnispark convert-lora} reads either ({@link WanLoraConvert}).
 */
public final class WanLoraExport {
    /** The adapter file of hf_ckpt/ (the name diffusers folders give their weights). */
    public static final String HF_CKPT_WEIGHTS = "diffusion_pytorch_model.safetensors";
    /** The adapter description beside it: PEFT's adapter_config.json fields, targets in original names. */
    public static final String HF_CKPT_CONFIG = "config.json";
    /** PEFT's adapter name, which PEFT puts in the keys of a state dict it did not strip. */
    public static final String ADAPTER_NAME = "default";

    private WanLoraExport() {}

    /**
     * hf_ckpt/'s two files through {@code sink}: the adapter in original naming with {@code .default.},
     * then config.json.
     *
     * @param adapter LoRA factors by diffusers parameter name; every linear has A [r, in] and B [out, r]
     * @throws IllegalArgumentException naming the tensor when a name is no Wan linear's LoRA factor,
     *     a shape is not [r, in] / [out, r] with the config's r, or a factor lacks its pair
     */
    public static void writeHfCkpt(PeftConfig config, Map<String, PeftAdapter.Tensor> adapter,
            HfCheckpoint.FolderSink sink) throws IOException {
        SafeTensorsWriter weights = hfCkptWeights(config, adapter);
        ObjectNode json = hfCkptConfig(config, adapter);
        try (OutputStream out = sink.create(HF_CKPT_WEIGHTS)) {
            weights.write(out);
        }
        write(sink, HF_CKPT_CONFIG, json);
    }

    /**
     * The PEFT folder through {@code sink}: {@code adapter_model.safetensors} with
     * {@code base_model.model.<diffusers linear>.lora_A/B.weight}, then {@code adapter_config.json}
     * ({@link #peftConfig}).
     *
     * @throws IllegalArgumentException as {@link #writeHfCkpt}
     */
    public static void writePeft(PeftConfig config, Map<String, PeftAdapter.Tensor> adapter,
            HfCheckpoint.FolderSink sink) throws IOException {
        checked(config, adapter);
        SafeTensorsWriter weights = new SafeTensorsWriter().metadata(Map.of("format", "pt"));
        for (Map.Entry<String, PeftAdapter.Tensor> t : adapter.entrySet()) {
            weights.add(PeftAdapter.KEY_PREFIX + t.getKey(), SafeDType.F32, t.getValue().shape(),
                    TensorBytes.ofFloats(t.getValue().values()));
        }
        try (OutputStream out = sink.create(PeftAdapter.WEIGHTS)) {
            weights.write(out);
        }
        write(sink, PeftAdapter.CONFIG, peftConfig(config));
    }

    /**
     * The adapter in original naming: each diffusers name renamed by {@link WanLoraNames#toOriginal}
     * with PEFT's {@code .default.} adapter name inserted before {@code weight}.
     */
    public static SafeTensorsWriter hfCkptWeights(PeftConfig config, Map<String, PeftAdapter.Tensor> adapter) {
        checked(config, adapter);
        SafeTensorsWriter weights = new SafeTensorsWriter().metadata(Map.of("format", "pt"));
        for (Map.Entry<String, PeftAdapter.Tensor> t : adapter.entrySet()) {
            weights.add(hfCkptKey(t.getKey()), SafeDType.F32, t.getValue().shape(),
                    TensorBytes.ofFloats(t.getValue().values()));
        }
        return weights;
    }

    /** {@code blocks.0.attn1.to_q.lora_A.weight} → {@code blocks.0.self_attn.q.lora_A.default.weight}. */
    public static String hfCkptKey(String diffusersLoraKey) {
        String original = WanLoraNames.toOriginal(checkFactor(diffusersLoraKey));
        return original.substring(0, original.length() - ".weight".length()) + "." + ADAPTER_NAME + ".weight";
    }

    /**
     * config.json of hf_ckpt/: PEFT's adapter_config.json fields ({@code r}, {@code lora_alpha},
     * {@code base_model_name_or_path}, …) with {@code target_modules} the block-relative original
     * names the file holds ({@code self_attn.q}, {@code ffn.0}, …), {@code task_type} null (a DiT is
     * no causal LM) and {@code "naming": "wan-original"}. {@link PeftConfig#fromJson} reads it.
     */
    public static ObjectNode hfCkptConfig(PeftConfig config, Map<String, PeftAdapter.Tensor> adapter) {
        checked(config, adapter);
        ObjectNode json = peftConfig(config);
        TreeSet<String> targets = new TreeSet<>();
        for (String key : adapter.keySet()) {
            String original = WanLoraNames.toOriginal(key);
            String module = original.substring(0, original.lastIndexOf(".lora_"));
            targets.add(module.replaceFirst("^blocks\\.\\d+\\.", ""));
        }
        ArrayNode modules = json.putArray("target_modules");
        targets.forEach(modules::add);
        json.put("naming", "wan-original");
        return json;
    }

    /** adapter_config.json of the PEFT form: {@link PeftConfig#toJson} with task_type null (a DiT is no causal LM). */
    public static ObjectNode peftConfig(PeftConfig config) {
        ObjectNode json = config.toJson();
        json.putNull("task_type");
        return json;
    }

    private static void write(HfCheckpoint.FolderSink sink, String name, ObjectNode json) throws IOException {
        try (OutputStream out = sink.create(name)) {
            out.write(json.toPrettyString().getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Every key a diffusers Wan linear's LoRA factor of the config's rank, each with its pair. */
    private static void checked(PeftConfig config, Map<String, PeftAdapter.Tensor> adapter) {
        if (adapter.isEmpty()) {
            throw new IllegalArgumentException("a Wan LoRA adapter needs at least one pair of LoRA factors, got none");
        }
        int rank = config.lora().rank();
        for (Map.Entry<String, PeftAdapter.Tensor> t : adapter.entrySet()) {
            String key = checkFactor(t.getKey());
            boolean isA = key.endsWith(PeftAdapter.A_SUFFIX);
            String linear = key.substring(0, key.length() - PeftAdapter.A_SUFFIX.length());
            String pair = linear + (isA ? PeftAdapter.B_SUFFIX : PeftAdapter.A_SUFFIX);
            if (!adapter.containsKey(pair)) {
                throw new IllegalArgumentException("Wan LoRA adapter has " + key + " but not " + pair);
            }
            long[] shape = t.getValue().shape();
            if (shape.length != 2 || (isA ? shape[0] : shape[1]) != rank) {
                throw new IllegalArgumentException("Wan LoRA tensor " + key + " has shape " + Arrays.toString(shape)
                        + "; with r = " + rank + " it must be " + (isA ? "[" + rank + ", in]" : "[out, " + rank + "]"));
            }
            long numel = shape[0] * shape[1];
            if (t.getValue().values().length != numel) {
                throw new IllegalArgumentException("Wan LoRA tensor " + key + " of shape " + Arrays.toString(shape)
                        + " holds " + t.getValue().values().length + " values, not " + numel);
            }
        }
    }

    private static String checkFactor(String key) {
        if (key == null || !(key.endsWith(PeftAdapter.A_SUFFIX) || key.endsWith(PeftAdapter.B_SUFFIX))
                || !WanLoraNames.isDiffusers(key) || !WanLoraNames.isLoraFactor(key)) {
            throw new IllegalArgumentException("'" + key + "' is not a Wan LoRA factor in diffusers naming "
                    + "(blocks.N.<linear>.lora_A.weight or .lora_B.weight, the linear one of attn1/attn2.to_q, to_k, "
                    + "to_v, to_out.0, attn2.add_k_proj, add_v_proj, ffn.net.0.proj, ffn.net.2, or a linear outside "
                    + "the blocks)");
        }
        return key;
    }
}
