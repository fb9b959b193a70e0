package ai.omnispark.models.llm;

import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.Objective;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.models.api.StateDictAdapter;
import ai.omnispark.models.decoder.DecoderHead;
import ai.omnispark.models.decoder.DecoderLayouts;
import ai.omnispark.models.decoder.DecoderModel;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.decoder.DecoderStateDictAdapter;
import ai.omnispark.models.decoder.SwiGluMlp;
import ai.omnispark.models.decoder.TokenLoss;
import ai.omnispark.models.lora.LoraAdapters;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A decoder-only LM of the Llama family (Llama, Qwen2, Qwen3), declared as parameter units and
 * segments. It knows nothing of how it is run: the engine and the parallel layer decide that.
 * Units: "embed", "layers.i" (one per block, read by its
 * segments "attn.i" and "mlp.i"), "head" (final norm and untied lm_head).
 *
 * <p>One instance per rank: it owns the rank's attention kernels (the loaded SDPA modules), which
 * {@link #close} frees.
 */
final class DecoderLM extends DecoderModel<DecoderConfig> {
    private final List<UnitLayout> units;
    private final DecoderStateDictAdapter stateDictAdapter;
    private final DecoderLora lora;

    /** With {@link AttentionImpl#AUTO} attention. */
    public DecoderLM(DecoderConfig config) {
        this(config, AttentionImpl.AUTO);
    }

    public DecoderLM(DecoderConfig config, AttentionImpl attentionImpl) {
        this(config, attentionImpl, Attention.DEFAULT_BLOCK);
    }

    /** With the default attention and the loss computed in chunks of {@code lossChunkTokens}. */
    public DecoderLM(DecoderConfig config, int lossChunkTokens) {
        this(config, AttentionImpl.AUTO, Attention.DEFAULT_BLOCK, lossChunkTokens);
    }

    /** With the chunked kernel's block size set, so tests can cross block edges on short rows. */
    DecoderLM(DecoderConfig config, AttentionImpl attentionImpl, int attentionBlock) {
        this(config, attentionImpl, attentionBlock, 0);
    }

    /** See {@link DecoderModel#DecoderModel}. */
    public DecoderLM(DecoderConfig config, AttentionImpl attentionImpl, int attentionBlock, int lossChunkTokens) {
        this(config, attentionImpl, attentionBlock, lossChunkTokens, null);
    }

    /**
     * @param lora adapters on the linears it names, the rest of the model frozen; null: every
     *     parameter trains
     */
    DecoderLM(DecoderConfig config, AttentionImpl attentionImpl, int attentionBlock, int lossChunkTokens,
            LoraConfig lora) {
        super(config, attentionImpl, attentionBlock, lossChunkTokens);
        this.lora = new DecoderLora(config, lora);
        this.units = layouts(config, this.lora);
        this.stateDictAdapter = new DecoderStateDictAdapter(config, units);
    }

    public DecoderConfig config() {
        return config;
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
    public Collator collator() {
        return new TokenCollator(config, lora);
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
        return new DecoderParallelize();
    }

    @Override
    public ObjectNode hfConfig(String torchDtype) {
        return DecoderConfigJson.toJson(config, torchDtype);
    }

    @Override
    public ObjectNode generationConfig() {
        return DecoderConfigJson.generationConfig(config);
    }

    @Override
    public LoraConfig lora() {
        return lora.config();
    }

    @Override
    public List<String> describe() {
        List<String> lines = new ArrayList<>();
        lines.add("model " + config.family() + " with " + config.parameterCount() + " parameters");
        if (lora.enabled()) {
            lines.add("LoRA rank " + lora.config().rank() + ", alpha " + lora.config().alpha() + " on "
                    + lora.adaptedLinears() + " linears: " + lora.parameterCount()
                    + " trainable parameters, the base frozen");
        }
        return lines;
    }

    @Override
    protected Segment attentionSegment(int layer) {
        return new AttentionSegment(config, layer, attention, lora);
    }

    @Override
    protected Segment mlpSegment(int layer) {
        return new MlpSegment(config, layer, lora, siluMul);
    }

    /** The head: the summed token cross-entropy in training, the logits in evaluation. */
    @Override
    protected Segment head(boolean loss) {
        // Under LoRA the head (and a tied embedding) is frozen: its weight gradient is not computed.
        return new DecoderHead(config, loss, lossChunkTokens, lora.enabled());
    }

    /** The unit that holds {@code param}. */
    public String unitOf(String param) {
        for (UnitLayout u : units) {
            for (ParamSpec p : u.params()) {
                if (p.name().equals(param)) {
                    return u.name();
                }
            }
        }
        throw new IllegalArgumentException("the model has no parameter named " + param);
    }

    private static List<UnitLayout> layouts(DecoderConfig c, DecoderLora lora) {
        List<UnitLayout> units = new ArrayList<>();
        for (UnitLayout u : baseLayouts(c)) {
            units.add(lora.enabled() ? frozen(u) : u);
            if (u.name().startsWith("layers.")) {
                int layer = Integer.parseInt(u.name().substring("layers.".length()));
                List<ParamSpec> adapters = lora.specs(layer);
                if (!adapters.isEmpty()) {
                    units.add(new UnitLayout(LoraAdapters.unitOf(u.name()), adapters));
                }
            }
        }
        return units;
    }

    /** {@code u} with every parameter frozen: the base under LoRA. */
    private static UnitLayout frozen(UnitLayout u) {
        List<ParamSpec> params = new ArrayList<>();
        for (ParamSpec p : u.params()) {
            params.add(new ParamSpec(p.name(), p.shape(), p.init(), p.decay(), false));
        }
        return new UnitLayout(u.name(), params);
    }

    private static List<UnitLayout> baseLayouts(DecoderConfig c) {
        List<UnitLayout> units = new ArrayList<>();
        units.add(DecoderLayouts.embed(c));
        for (int i = 0; i < c.numLayers(); i++) {
            List<ParamSpec> p = new ArrayList<>();
            DecoderLayouts.attention(c, i, p);
            SwiGluMlp.params(c, i, p);
            units.add(new UnitLayout(DecoderNames.unit(i), p));
        }
        units.add(DecoderLayouts.head(c));
        return units;
    }
}
