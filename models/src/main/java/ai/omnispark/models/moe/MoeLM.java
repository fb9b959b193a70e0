package ai.omnispark.models.moe;

import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.ModelMetrics;
import ai.omnispark.models.api.Objective;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.models.api.StateDictAdapter;
import ai.omnispark.models.decoder.DecoderLayouts;
import ai.omnispark.models.decoder.DecoderModel;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.decoder.TokenLoss;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.mesh.MeshDims;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A Qwen3-MoE / Qwen2-MoE decoder as parameter units and segments. Units: "embed", "layers.i" (the
 * block's attention, its router and shared expert, or its dense MLP; read by "attn.i" and "mlp.i"),
 * "layers.i.experts.j" (expert j of a sparse layer, partitioned across the mesh's ep dim), "head". Between segments flows the hidden state and, with the load-balancing loss on, the router
 * statistics of the sparse layers so far (see {@link MoeMlp}). One instance per rank: it owns the
 * rank's attention kernels, which {@link #close} frees.
 */
final class MoeLM extends DecoderModel<MoeConfig> {
    private final List<UnitLayout> units;
    private final MoeStateDictAdapter stateDictAdapter;
    /** What this rank's sparse layers routed; their segments record into it. */
    private final RouterMetrics routerMetrics;

    /** See {@link DecoderModel#DecoderModel}. */
    MoeLM(MoeConfig config, AttentionImpl attentionImpl, int attentionBlock, int lossChunkTokens) {
        super(config, attentionImpl, attentionBlock, lossChunkTokens);
        this.units = layouts(config);
        this.stateDictAdapter = new MoeStateDictAdapter(config, units);
        this.routerMetrics = new RouterMetrics(config);
    }

    MoeConfig config() {
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
        return new MoeCollator(config);
    }

    @Override
    public Objective objective() {
        return new TokenLoss(config.auxLoss() ? List.of(TokenLoss.CE, MoeHead.AUX) : List.of(TokenLoss.CE));
    }

    /** Tokens per expert of each sparse layer and the unscaled load-balancing loss ({@link RouterMetrics}). */
    @Override
    public ModelMetrics metrics() {
        return routerMetrics;
    }

    /** The same, for the family's segments that route (expert parallelism's route segment records into it too). */
    RouterMetrics routerMetrics() {
        return routerMetrics;
    }

    @Override
    public StateDictAdapter stateDictAdapter() {
        return stateDictAdapter;
    }

    @Override
    public Parallelize parallelize() {
        return new MoeParallelize();
    }

    @Override
    public ObjectNode hfConfig(String torchDtype) {
        return MoeConfigJson.toJson(config, torchDtype);
    }

    @Override
    public ObjectNode generationConfig() {
        return MoeConfigJson.generationConfig(config);
    }

    @Override
    public List<String> describe() {
        List<String> lines = new ArrayList<>();
        lines.add("model " + config.family() + " with " + config.parameterCount() + " parameters: "
                + config.sparseLayers() + " of " + config.numLayers() + " layers sparse, " + config.numExperts()
                + " experts, top-" + config.numExpertsPerTok() + (config.normTopkProb() ? " renormalised" : "")
                + (config.sharedExpert() ? ", shared expert" : ""));
        lines.add(config.auxLoss() ? "load-balancing loss: router_aux_loss_coef " + config.routerAuxLossCoef()
                : "no load-balancing loss (output_router_logits is false or no layer is sparse)");
        return lines;
    }

    @Override
    protected Segment attentionSegment(int layer) {
        return new MoeAttention(config, layer, attention);
    }

    @Override
    protected Segment mlpSegment(int layer) {
        return new MoeMlp(config, layer, routerMetrics);
    }

    /** The head: the summed token cross-entropy and, with the aux loss, its term in training; the logits in evaluation. */
    @Override
    protected Segment head(boolean loss) {
        return new MoeHead(config, loss, lossChunkTokens);
    }

    private static List<UnitLayout> layouts(MoeConfig c) {
        Init normal = Init.normal(c.initializerRange());
        long h = c.hiddenSize();
        List<UnitLayout> units = new ArrayList<>();
        units.add(DecoderLayouts.embed(c));
        for (int i = 0; i < c.numLayers(); i++) {
            List<ParamSpec> p = new ArrayList<>();
            List<UnitLayout> experts = new ArrayList<>();
            DecoderLayouts.attention(c, i, p);
            if (c.sparse(i)) {
                long im = c.moeIntermediateSize();
                p.add(ParamSpec.of(DecoderNames.layer(i, "mlp.gate.weight"), normal, c.numExperts(), h));
                for (int e = 0; e < c.numExperts(); e++) {
                    experts.add(new UnitLayout(MoeNames.expertUnit(i, e), List.of(
                            ParamSpec.of(MoeNames.expert(i, e, "gate_proj"), normal, im, h),
                            ParamSpec.of(MoeNames.expert(i, e, "up_proj"), normal, im, h),
                            ParamSpec.of(MoeNames.expert(i, e, "down_proj"), normal, h, im)),
                            new UnitLayout.Partition(MeshDims.EP, e, c.numExperts())));
                }
                if (c.sharedExpert()) {
                    long is = c.sharedExpertIntermediateSize();
                    p.add(ParamSpec.of(DecoderNames.layer(i, "mlp.shared_expert.gate_proj.weight"), normal, is, h));
                    p.add(ParamSpec.of(DecoderNames.layer(i, "mlp.shared_expert.up_proj.weight"), normal, is, h));
                    p.add(ParamSpec.of(DecoderNames.layer(i, "mlp.shared_expert.down_proj.weight"), normal, h, is));
                    p.add(ParamSpec.of(DecoderNames.layer(i, "mlp.shared_expert_gate.weight"), normal, 1, h));
                }
            } else {
                p.add(ParamSpec.of(DecoderNames.layer(i, "mlp.gate_proj.weight"), normal, c.intermediateSize(), h));
                p.add(ParamSpec.of(DecoderNames.layer(i, "mlp.up_proj.weight"), normal, c.intermediateSize(), h));
                p.add(ParamSpec.of(DecoderNames.layer(i, "mlp.down_proj.weight"), normal, h, c.intermediateSize()));
            }
            units.add(new UnitLayout(DecoderNames.unit(i), p));
            units.addAll(experts);
        }
        units.add(DecoderLayouts.head(c));
        return units;
    }
}
