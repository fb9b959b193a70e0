package ai.omnispark.models.wan;

import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.Objective;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.models.api.StateDictAdapter;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.lora.AdapterExport;
import ai.omnispark.models.lora.LoraAdapters;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.LoraTargets;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.models.lora.PeftConfig;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Wan 2.1 DiT (diffusers' WanTransformer3DModel, text- or image-to-video) on one rank. Units:
 * "embed", "blocks.i", "head" ({@link WanLayouts}), each FSDP-gathered on its own. Segments:
 * <pre>
 *  embed (patches, timestep, text [, image]) -> blocks.0 .. L-1 -> head (flow-matching loss, or the prediction)
 * </pre>
 * Parameter names are the diffusers names. With LoRA the base is frozen and block i's adapted
 * linears (diffusers leaf names: to_q, to_k, to_v, to_out.0, ffn.net.0.proj, ffn.net.2,
 * add_k_proj, add_v_proj) take their adapters from unit "blocks.i.lora". One instance per rank: it
 * owns the rank's attention kernels, which {@link #close} frees.
 */
public final class WanModel implements Model {
    public static final String WEIGHTS = "diffusion_pytorch_model.safetensors";

    private final WanConfig config;
    private final Attention attention;
    private final LoraTargets lora;
    private final List<UnitLayout> units;
    private final WanStateDictAdapter stateDictAdapter;
    private final FlowMatching flow;

    public WanModel(WanConfig config, AttentionImpl attentionImpl, DiffusionOptions diffusion, LoraConfig lora) {
        this.config = config;
        this.flow = new FlowMatching(diffusion);
        this.lora = new LoraTargets(lora, WanLayouts.loraCandidates(config), WanLayouts.LORA_KINDS);
        List<UnitLayout> list = new ArrayList<>();
        for (UnitLayout u : WanLayouts.units(config)) {
            list.add(this.lora.enabled() ? frozen(u) : u);
            List<ParamSpec> adapters = this.lora.specs(u.name());
            if (!adapters.isEmpty()) {
                list.add(new UnitLayout(LoraAdapters.unitOf(u.name()), adapters));
            }
        }
        this.units = List.copyOf(list);
        this.stateDictAdapter = new WanStateDictAdapter(units);
        this.attention = new Attention(attentionImpl);
    }

    public WanConfig config() {
        return config;
    }

    @Override
    public String family() {
        return WanFamily.NAME;
    }

    @Override
    public long parameterCount() {
        return config.parameterCount();
    }

    @Override
    public List<UnitLayout> units() {
        return units;
    }

    @Override
    public List<Segment> trainingSegments() {
        return segments(true);
    }

    /** The segments of one DiT forward; the last output is the prediction [B, out_channels, F, H, W]. */
    @Override
    public List<Segment> evaluationSegments() {
        return segments(false);
    }

    /** The flow-matching collator, plus a training step's LoRA-dropout masks (per token of the adapted linear's input). */
    @Override
    public Collator collator() {
        WanCollator latents = new WanCollator(config, flow);
        return (scope, samples, dtype, random) -> {
            Batch batch = latents.collate(scope, samples, dtype, random);
            if (random != null && lora.enabled()) {
                Shape hs = batch.get(WanBatch.HIDDEN_STATES).getShape();
                int[] p = config.patchSize();
                long tokens = hs.get(2) / p[0] * (hs.get(3) / p[1]) * (hs.get(4) / p[2]);
                long text = batch.get(WanBatch.ENCODER_HIDDEN_STATES).getShape().get(1);
                long image = batch.has(WanBatch.ENCODER_HIDDEN_STATES_IMAGE)
                        ? batch.get(WanBatch.ENCODER_HIDDEN_STATES_IMAGE).getShape().get(1) : 0;
                long rows = hs.get(0);
                lora.addDropout(batch, scope, dtype, t -> new Shape(rows, inputTokens(t.module(), tokens, text, image),
                        t.in()), random);
            }
            return batch;
        };
    }

    /** Tokens of an adapted linear's input: attn2's keys/values read the text (or image) context, the rest x. */
    private static long inputTokens(String module, long tokens, long text, long image) {
        if (module.endsWith("attn2.to_k") || module.endsWith("attn2.to_v")) {
            return text;
        }
        if (module.endsWith("add_k_proj") || module.endsWith("add_v_proj")) {
            return image;
        }
        return tokens;
    }

    /** Whether the linear {@code module} reads the text or image context rather than the video tokens x. */
    static boolean readsContext(String module) {
        return module.endsWith("attn2.to_k") || module.endsWith("attn2.to_v") || module.endsWith("add_k_proj")
                || module.endsWith("add_v_proj");
    }

    @Override
    public Objective objective() {
        return new FlowMatchingLoss();
    }

    @Override
    public StateDictAdapter stateDictAdapter() {
        return stateDictAdapter;
    }

    @Override
    public Parallelize parallelize() {
        return new WanParallelize();
    }

    @Override
    public Set<SampleLayout> sampleLayouts() {
        return WanFamily.SAMPLE_LAYOUTS;
    }

    @Override
    public int vocabSize() {
        return 0;
    }

    /** diffusers' config.json; diffusers configs carry no torch_dtype, so {@code torchDtype} is not written. */
    @Override
    public ObjectNode hfConfig(String torchDtype) {
        return WanConfigJson.toJson(config);
    }

    @Override
    public ObjectNode generationConfig() {
        return null;
    }

    @Override
    public String hfWeightsFile() {
        return WEIGHTS;
    }

    /** A diffusers folder: config.json and the weights, no tokenizer (the model takes text embeddings). */
    @Override
    public boolean hfFolderHasTokenizer() {
        return false;
    }

    @Override
    public LoraConfig lora() {
        return lora.config();
    }

    /**
     * hf_ckpt/ in the original Wan naming with PEFT's {@code .default.} (the source article's form,
     * what convert-lora takes), final_lora/ in PEFT's diffusers form ({@link WanLoraExport}).
     */
    @Override
    public AdapterExport adapterExport() {
        return new AdapterExport() {
            @Override
            public void writeCheckpoint(PeftConfig peft, Map<String, PeftAdapter.Tensor> adapter,
                    HfCheckpoint.FolderSink sink) throws IOException {
                WanLoraExport.writeHfCkpt(peft, adapter, sink);
            }

            @Override
            public void writeFinal(PeftConfig peft, Map<String, PeftAdapter.Tensor> adapter,
                    HfCheckpoint.FolderSink sink) throws IOException {
                WanLoraExport.writePeft(peft, adapter, sink);
            }
        };
    }

    @Override
    public List<String> describe() {
        List<String> lines = new ArrayList<>();
        lines.add("model " + WanFamily.NAME + " (" + (config.isImageToVideo() ? "image" : "text") + "-to-video) with "
                + config.parameterCount() + " parameters: " + config.numLayers() + " blocks x " + config.dim() + " ("
                + config.numAttentionHeads() + " heads of " + config.attentionHeadDim() + ", ffn " + config.ffnDim()
                + "), patch " + java.util.Arrays.toString(config.patchSize()) + ", flow shift "
                + flow.options().flowShift() + ", timestep weighting " + flow.options().timestepWeighting()
                + ", text dropout " + flow.options().textDropout());
        if (lora.enabled()) {
            lines.add("LoRA rank " + lora.config().rank() + ", alpha " + lora.config().alpha() + " on "
                    + lora.adaptedLinears() + " linears: " + lora.parameterCount() + " trainable parameters, the base frozen");
        }
        return lines;
    }

    @Override
    public void close() {
        attention.close();
    }

    private List<Segment> segments(boolean loss) {
        List<Segment> segments = new ArrayList<>();
        segments.add(new WanEmbedSegment(config));
        for (int i = 0; i < config.numLayers(); i++) {
            segments.add(new WanBlockSegment(config, i, attention, lora));
        }
        segments.add(new WanHeadSegment(config, loss));
        return segments;
    }

    private static UnitLayout frozen(UnitLayout u) {
        List<ParamSpec> params = new ArrayList<>();
        for (ParamSpec p : u.params()) {
            params.add(new ParamSpec(p.name(), p.shape(), p.init(), p.decay(), false));
        }
        return new UnitLayout(u.name(), params);
    }
}
