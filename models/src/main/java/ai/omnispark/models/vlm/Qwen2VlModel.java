package ai.omnispark.models.vlm;

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
import ai.omnispark.models.decoder.DecoderLayouts;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.decoder.DecoderStateDictAdapter;
import ai.omnispark.models.decoder.SwiGluMlp;
import ai.omnispark.models.decoder.TokenLoss;
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
 */
final class Qwen2VlModel implements Model {
    private final Qwen2VlConfig config;
    private final FrozenParts freeze;
    private final Attention attention;
    private final int lossChunkTokens;
    private final List<UnitLayout> units;
    private final DecoderStateDictAdapter stateDictAdapter;

    /**
     * @param attentionBlock queries and keys per block of the chunked attention kernel
     * @param lossChunkTokens tokens per chunk of the training loss's output projection; 0 = auto
     */
    Qwen2VlModel(Qwen2VlConfig config, AttentionImpl attentionImpl, int attentionBlock, int lossChunkTokens,
            FrozenParts freeze) {
        if (lossChunkTokens < 0) {
            throw new IllegalArgumentException("model.loss_chunk_tokens must be >= 0 (0 = auto), got " + lossChunkTokens);
        }
        this.config = config;
        this.freeze = freeze;
        this.lossChunkTokens = lossChunkTokens;
        this.units = layouts(config, freeze);
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
     * v2's VlmCollator (issue 15 item 2: pixels, M-RoPE and vision tables from the shard's media)
     * is not on this branch yet; the merge wires it here.
     */
    @Override
    public Collator collator() {
        VlmCollator media = mediaCollator();
        return (scope, samples, dtype, random) -> {
            Batch batch = media.collate(scope, samples, dtype, random);
            if (random != null) {
                TokenBatch.addAttentionDropout(batch, scope, config.attentionDropout(), config.numHeads(),
                        config.numLayers(), dtype, samples.size(), samples.get(0).length(), random);
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
        return lines;
    }

    @Override
    public void close() {
        attention.close();
    }

    private List<Segment> segments(boolean loss) {
        VisionConfig v = config.vision();
        List<Segment> segments = new ArrayList<>();
        segments.add(new PatchEmbedSegment(v));
        for (int i = 0; i < v.depth(); i++) {
            segments.add(new VisionBlockSegment(v, i, attention));
        }
        segments.add(new MergerSegment(v));
        segments.add(new MediaEmbedSegment(config));
        for (int i = 0; i < config.numLayers(); i++) {
            segments.add(LanguageBlockSegment.attention(config, i, attention));
            segments.add(LanguageBlockSegment.mlp(config, i));
        }
        // A frozen language model's head (and tied embedding) takes no weight gradient.
        segments.add(new DecoderHead(config, loss, lossChunkTokens, freeze.languageModel()));
        return segments;
    }

    private static List<UnitLayout> layouts(Qwen2VlConfig c, FrozenParts freeze) {
        List<UnitLayout> units = new ArrayList<>();
        for (UnitLayout u : VisionLayouts.units(c)) {
            boolean frozen = u.name().equals(VisionNames.MERGER_UNIT) ? freeze.merger() : freeze.visionTower();
            units.add(frozen ? frozen(u) : u);
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
            units.add(freeze.languageModel() ? frozen(u) : u);
        }
        return units;
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
