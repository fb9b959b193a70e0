package ai.omnispark.models.decoder;

import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The parameter declarations every decoder family shares, in HF order: the embedding unit, the
 * attention half of block i, and the head unit. A family adds its MLP after {@link #attention}.
 */
public final class DecoderLayouts {
    private DecoderLayouts() {}

    public static UnitLayout embed(DecoderShape c) {
        return new UnitLayout(DecoderNames.EMBED_UNIT, List.of(ParamSpec.of(DecoderNames.EMBED,
                Init.normal(c.initializerRange()), c.vocabSize(), c.hiddenSize())));
    }

    /** Appends block {@code i}'s input norm, q/k/v (biases, q/k norms), o_proj (bias) and post-attention norm to {@code p}. */
    public static void attention(DecoderShape c, int i, List<ParamSpec> p) {
        Init normal = Init.normal(c.initializerRange());
        long h = c.hiddenSize();
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        p.add(ParamSpec.of(DecoderNames.layer(i, "input_layernorm.weight"), Init.ones(), h));
        p.add(ParamSpec.of(DecoderNames.layer(i, "self_attn.q_proj.weight"), normal, q, h));
        p.add(ParamSpec.of(DecoderNames.layer(i, "self_attn.k_proj.weight"), normal, kv, h));
        p.add(ParamSpec.of(DecoderNames.layer(i, "self_attn.v_proj.weight"), normal, kv, h));
        if (c.qkvBias()) {
            p.add(ParamSpec.of(DecoderNames.layer(i, "self_attn.q_proj.bias"), Init.zeros(), q));
            p.add(ParamSpec.of(DecoderNames.layer(i, "self_attn.k_proj.bias"), Init.zeros(), kv));
            p.add(ParamSpec.of(DecoderNames.layer(i, "self_attn.v_proj.bias"), Init.zeros(), kv));
        }
        if (c.qkNorm()) {
            p.add(ParamSpec.of(DecoderNames.layer(i, "self_attn.q_norm.weight"), Init.ones(), c.headDim()));
            p.add(ParamSpec.of(DecoderNames.layer(i, "self_attn.k_norm.weight"), Init.ones(), c.headDim()));
        }
        p.add(ParamSpec.of(DecoderNames.layer(i, "self_attn.o_proj.weight"), normal, h, q));
        if (c.outputBias()) {
            p.add(ParamSpec.of(DecoderNames.layer(i, "self_attn.o_proj.bias"), Init.zeros(), h));
        }
        p.add(ParamSpec.of(DecoderNames.layer(i, "post_attention_layernorm.weight"), Init.ones(), h));
    }

    /** The final norm and, untied, lm_head. */
    public static UnitLayout head(DecoderShape c) {
        List<ParamSpec> head = new ArrayList<>();
        head.add(ParamSpec.of(DecoderNames.FINAL_NORM, Init.ones(), c.hiddenSize()));
        if (!c.tieWordEmbeddings()) {
            head.add(ParamSpec.of(DecoderNames.LM_HEAD, Init.normal(c.initializerRange()), c.vocabSize(), c.hiddenSize()));
        }
        return new UnitLayout(DecoderNames.HEAD_UNIT, head);
    }
}
