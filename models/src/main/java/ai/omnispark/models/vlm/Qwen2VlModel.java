package ai.omnispark.models.vlm;

import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.CachedDecoding;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.FrozenParts;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.Objective;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.models.api.ProcessorMedia;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.models.api.StateDictAdapter;
import ai.omnispark.models.decoder.DecoderConfigKeys;
import ai.omnispark.models.decoder.DecoderHead;
import ai.omnispark.models.decoder.DecoderLinears;
import ai.omnispark.models.decoder.DecoderLayouts;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.decoder.DecoderStateDictAdapter;
import ai.omnispark.models.decoder.SwiGluMlp;
import ai.omnispark.models.decoder.TokenLoss;
import ai.omnispark.models.lora.LoraAdapters;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.LoraTargets;
import ai.omnispark.models.nn.SiluMul;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Qwen2-VL on one rank, as parameter units and segments. Units: "visual.patch_embed",
 * "visual.blocks.i" (one per ViT block), "visual.merger", then the Qwen2 decoder's "embed",
 * "layers.i" (one per decoder layer) and "head" (final norm and, untied, lm_head): each a unit FSDP
 * gathers on its own. Segments:
 *
 * <pre>
 *  visual.patch_embed -> visual.blocks.0 .. D-1 -> visual.merger     (every patch of the micro-batch)
 *  embed (token embeddings, vision tokens scattered into the placeholders) -> attn.i, mlp.i -> head
 * </pre>
 *
 * The decoder halves are the shared decoder's ({@code models/decoder}, {@code nn/attention}); its
 * rotary tables are the batch's M-RoPE tables under the usual keys. Parameter names are the HF
 * names ({@code visual.*}, {@code model.*}, {@code lm_head.weight}). One instance per rank: it owns
 * the rank's attention kernels, which {@link #close} frees; the vision tower and the decoder share
 * them.
 *
 * <p>With LoRA ({@code model.lora_config}) every base unit is frozen and the adapted linears of
 * ViT block i and decoder layer i take their adapters from units "visual.blocks.i.lora" and
 * "layers.i.lora" ({@link LoraTargets}).
 */
final class Qwen2VlModel implements Model {
    private final Qwen2VlConfig config;
    private final FrozenParts freeze;
    private final Attention attention;
    private final SiluMul siluMul = new SiluMul();
    private final int lossChunkTokens;
    private final List<UnitLayout> units;
    private final DecoderStateDictAdapter stateDictAdapter;
    private final LoraTargets lora;

    /**
     * @param attentionBlock queries and keys per block of the chunked attention kernel
     * @param lossChunkTokens tokens per chunk of the training loss's output projection; 0 = auto
     */
    Qwen2VlModel(Qwen2VlConfig config, AttentionImpl attentionImpl, int attentionBlock, int lossChunkTokens,
            FrozenParts freeze) {
        this(config, attentionImpl, attentionBlock, lossChunkTokens, freeze, null);
    }

    /**
     * @param lora adapters on the decoder linears (and the ViT block linears) it names, the whole base
     *     frozen; null: no adapters. It cannot be combined with {@code freeze}, which would say nothing more.
     */
    Qwen2VlModel(Qwen2VlConfig config, AttentionImpl attentionImpl, int attentionBlock, int lossChunkTokens,
            FrozenParts freeze, LoraConfig lora) {
        if (lora != null && freeze.any()) {
            throw new IllegalArgumentException("model.lora_config freezes the whole base model, so "
                    + "model.freeze_vision_tower, model.freeze_merger and model.freeze_language_model add nothing "
                    + "(frozen here: " + freeze.describe() + "); remove them or model.lora_config");
        }
        if (lossChunkTokens < 0) {
            throw new IllegalArgumentException("model.loss_chunk_tokens must be >= 0 (0 = auto), got " + lossChunkTokens);
        }
        this.config = config;
        this.freeze = freeze;
        this.lossChunkTokens = lossChunkTokens;
        List<LoraTargets.Candidate> candidates = new ArrayList<>(VisionLayouts.loraCandidates(config.vision()));
        candidates.addAll(DecoderLinears.loraCandidates(config));
        this.lora = new LoraTargets(lora, candidates, DecoderLinears.DESCRIBED + " of every decoder layer; "
                + VisionLayouts.LORA_KINDS);
        this.units = layouts(config, freeze, this.lora);
        this.stateDictAdapter = new DecoderStateDictAdapter(config, units);
        this.attention = new Attention(attentionImpl, attentionBlock);
    }

    Qwen2VlConfig config() {
        return config;
    }

    @Override
    public String family() {
        return config.family();
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

    @Override
    public List<Segment> evaluationSegments() {
        return segments(false);
    }

    /**
     * The shard's media and tokens as {@link VlmCollator} lays them out, plus a training step's
     * attention-dropout and LoRA-dropout masks (ViT adapters per patch, decoder ones per token).
     */
    @Override
    public Collator collator() {
        VlmCollator media = mediaCollator();
        return (scope, samples, dtype, random) -> {
            Batch batch = media.collate(scope, samples, dtype, random);
            if (random != null) {
                int rows = samples.size();
                int seqLen = samples.get(0).length();
                TokenBatch.addAttentionDropout(batch, scope, config.attentionDropout(), config.numHeads(),
                        config.numLayers(), dtype, rows, seqLen, random);
                long patches = batch.get(VlmBatch.PIXEL_VALUES).getShape().get(0);
                lora.addDropout(batch, scope, dtype, t -> t.module().startsWith(VisionNames.PREFIX)
                        ? new Shape(patches, t.in()) : new Shape(rows, seqLen, t.in()), random);
            }
            return batch;
        };
    }

    /** Images as HF's Qwen2-VL image processor returns them (pixel_values, image_grid_thw). */
    @Override
    public ProcessorMedia processorMedia() {
        return mediaCollator();
    }

    private VlmCollator mediaCollator() {
        return new VlmCollator(config.tokens(), config.geometry(), config.vocabSize(), config.headDim(),
                config.ropeTheta(), config.mropeSections(), config.vision().headDim());
    }

    /** The prompt with its media, then one text token per step over the cached keys and values. */
    @Override
    public CachedDecoding cachedDecoding() {
        return new VlmDecoding(config, collator());
    }

    @Override
    public Objective objective() {
        return TokenLoss.crossEntropy();
    }

    @Override
    public StateDictAdapter stateDictAdapter() {
        return stateDictAdapter;
    }

    @Override
    public Parallelize parallelize() {
        return new Qwen2VlParallelize();
    }

    @Override
    public Set<SampleLayout> sampleLayouts() {
        return Qwen2VlFamily.SAMPLE_LAYOUTS;
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    @Override
    public ObjectNode hfConfig(String torchDtype) {
        return Qwen2VlConfigJson.toJson(config, torchDtype);
    }

    @Override
    public ObjectNode generationConfig() {
        return DecoderConfigKeys.generationConfig(config);
    }

    @Override
    public LoraConfig lora() {
        return lora.config();
    }

    @Override
    public List<String> describe() {
        VisionConfig v = config.vision();
        List<String> lines = new ArrayList<>();
        lines.add("model " + config.family() + " with " + config.parameterCount() + " parameters: ViT depth "
                + v.depth() + " x " + v.embedDim() + " (" + v.numHeads() + " heads, patch " + v.patchSize() + ", merge "
                + v.spatialMergeSize() + "), decoder " + config.numLayers() + " x " + config.hiddenSize()
                + ", M-RoPE sections " + config.mropeSection());
        if (freeze.any()) {
            lines.add("frozen: " + freeze.describe());
        }
        if (lora.enabled()) {
            lines.add("LoRA rank " + lora.config().rank() + ", alpha " + lora.config().alpha() + " on "
                    + lora.adaptedLinears() + " linears: " + lora.parameterCount()
                    + " trainable parameters, the base frozen");
        }
        return lines;
    }

    @Override
    public void close() {
        attention.close();
        siluMul.close();
    }

    private List<Segment> segments(boolean loss) {
        VisionConfig v = config.vision();
        List<Segment> segments = new ArrayList<>();
        segments.add(new PatchEmbedSegment(v));
        for (int i = 0; i < v.depth(); i++) {
            segments.add(new VisionBlockSegment(v, i, attention, lora));
        }
        segments.add(new MergerSegment(v));
        segments.add(new MediaEmbedSegment(config));
        for (int i = 0; i < config.numLayers(); i++) {
            segments.add(LanguageBlockSegment.attention(config, i, attention, lora));
            segments.add(LanguageBlockSegment.mlp(config, i, lora, siluMul));
        }
        // A frozen language model's head (and tied embedding) takes no weight gradient; under LoRA all is frozen.
        segments.add(new DecoderHead(config, loss, lossChunkTokens, freeze.languageModel() || lora.enabled()));
        return segments;
    }

    private static List<UnitLayout> layouts(Qwen2VlConfig c, FrozenParts freeze, LoraTargets lora) {
        List<UnitLayout> units = new ArrayList<>();
        for (UnitLayout u : VisionLayouts.units(c)) {
            boolean frozen = u.name().equals(VisionNames.MERGER_UNIT) ? freeze.merger() : freeze.visionTower();
            addWithAdapters(units, u, frozen || lora.enabled(), lora);
        }
        List<UnitLayout> language = new ArrayList<>();
        language.add(DecoderLayouts.embed(c));
        for (int i = 0; i < c.numLayers(); i++) {
            List<ParamSpec> p = new ArrayList<>();
            DecoderLayouts.attention(c, i, p);
            SwiGluMlp.params(c, i, p);
            language.add(new UnitLayout(DecoderNames.unit(i), p));
        }
        language.add(DecoderLayouts.head(c));
        for (UnitLayout u : language) {
            addWithAdapters(units, u, freeze.languageModel() || lora.enabled(), lora);
        }
        return units;
    }

    /** Base unit {@code u} (frozen or not), then its LoRA adapter unit when it has adapted linears. */
    private static void addWithAdapters(List<UnitLayout> units, UnitLayout u, boolean frozen, LoraTargets lora) {
        units.add(frozen ? frozen(u) : u);
        List<ParamSpec> adapters = lora.specs(u.name());
        if (!adapters.isEmpty()) {
            units.add(new UnitLayout(LoraAdapters.unitOf(u.name()), adapters));
        }
    }

    /** {@code u} with every parameter frozen: no gradient, no optimizer state (the frozen placement). */
    private static UnitLayout frozen(UnitLayout u) {
        List<ParamSpec> params = new ArrayList<>();
        for (ParamSpec p : u.params()) {
            params.add(new ParamSpec(p.name(), p.shape(), p.init(), p.decay(), false));
        }
        return new UnitLayout(u.name(), params);
    }
}
