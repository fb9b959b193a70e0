package ai.omnispark.models.moe;

import static ai.omnispark.models.decoder.DecoderConfigKeys.integer;
import static ai.omnispark.models.decoder.DecoderConfigKeys.present;
import static ai.omnispark.models.decoder.DecoderConfigKeys.text;

import ai.omnispark.models.decoder.DecoderConfigKeys;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * HF {@code config.json} of Qwen3-MoE / Qwen2-MoE to and from {@link MoeConfig}. Keys a config
 * leaves out take the defaults of transformers' Qwen3MoeConfig / Qwen2MoeConfig (e.g.
 * {@code norm_topk_prob} false, {@code decoder_sparse_step} 1, {@code router_aux_loss_coef} 0.001,
 * {@code output_router_logits} false); the shape keys are required.
 */
final class MoeConfigJson {
    private MoeConfigJson() {}

    static MoeConfig parse(JsonNode root) {
        String type = text(root, "model_type");
        if (!MoeConfig.MODEL_TYPES.contains(type)) {
            throw new IllegalArgumentException("model_type '" + type + "' is not a MoE family; supported: qwen3_moe, qwen2_moe");
        }
        boolean qwen2 = type.equals(MoeConfig.QWEN2_MOE);
        int hidden = integer(root, "hidden_size");
        int heads = integer(root, "num_attention_heads");
        int headDim;
        if (present(root, "head_dim")) {
            headDim = integer(root, "head_dim");
        } else {
            if (hidden % heads != 0) {
                throw new IllegalArgumentException("hidden_size (" + hidden + ") must be a multiple of num_attention_heads ("
                        + heads + ") unless head_dim is set");
            }
            headDim = hidden / heads;
        }
        DecoderConfigKeys.rejectUnsupported(root);
        if (root.path("use_sliding_window").asBoolean(false)) {
            throw new IllegalArgumentException("use_sliding_window true is not supported; set it to false");
        }
        List<Integer> mlpOnly = new ArrayList<>();
        JsonNode only = root.get("mlp_only_layers");
        if (only != null && !only.isNull()) {
            if (!only.isArray()) {
                throw new IllegalArgumentException("mlp_only_layers must be a list of layer indices, got " + only);
            }
            for (JsonNode n : only) {
                if (!n.canConvertToInt()) {
                    throw new IllegalArgumentException("mlp_only_layers must hold integers, got " + n);
                }
                mlpOnly.add(n.asInt());
            }
        }
        boolean bias = qwen2 ? root.path("qkv_bias").asBoolean(true) : root.path("attention_bias").asBoolean(false);
        return new MoeConfig(type,
                integer(root, "vocab_size"),
                hidden,
                integer(root, "intermediate_size"),
                integer(root, "num_hidden_layers"),
                heads,
                DecoderConfigKeys.kvHeads(root, heads),
                headDim,
                root.path("rms_norm_eps").asDouble(1e-6),
                root.path("rope_theta").asDouble(10000),
                root.path("tie_word_embeddings").asBoolean(false),
                bias,
                root.path("max_position_embeddings").asInt(32768),
                root.path("initializer_range").asDouble(0.02),
                DecoderConfigKeys.bosTokenId(root),
                DecoderConfigKeys.eosTokenId(root),
                root.path("attention_dropout").asDouble(0.0),
                integer(root, "num_experts"),
                integer(root, "num_experts_per_tok"),
                integer(root, "moe_intermediate_size"),
                qwen2 ? integer(root, "shared_expert_intermediate_size")
                        : root.path("shared_expert_intermediate_size").asInt(0),
                present(root, "decoder_sparse_step") ? integer(root, "decoder_sparse_step") : 1,
                mlpOnly,
                root.path("norm_topk_prob").asBoolean(false),
                root.path("router_aux_loss_coef").asDouble(0.001),
                root.path("output_router_logits").asBoolean(false));
    }

    /** The config.json of {@code c} with every field Qwen3MoeConfig / Qwen2MoeConfig read. */
    static ObjectNode toJson(MoeConfig c, String torchDtype) {
        boolean qwen2 = c.family().equals(MoeConfig.QWEN2_MOE);
        ObjectNode o = DecoderConfigKeys.start(c, qwen2 ? "Qwen2MoeForCausalLM" : "Qwen3MoeForCausalLM");
        if (qwen2) {
            o.put("qkv_bias", c.attentionBias());
        } else {
            o.put("attention_bias", c.attentionBias());
        }
        o.put("attention_dropout", c.attentionDropout());
        DecoderConfigKeys.putNoSlidingWindow(o, c);
        o.put("num_experts", c.numExperts());
        o.put("num_experts_per_tok", c.numExpertsPerTok());
        o.put("moe_intermediate_size", c.moeIntermediateSize());
        if (qwen2) {
            o.put("shared_expert_intermediate_size", c.sharedExpertIntermediateSize());
        }
        o.put("decoder_sparse_step", c.decoderSparseStep());
        ArrayNode only = o.putArray("mlp_only_layers");
        c.mlpOnlyLayers().forEach(only::add);
        o.put("norm_topk_prob", c.normTopkProb());
        o.put("router_aux_loss_coef", c.routerAuxLossCoef());
        o.put("output_router_logits", c.outputRouterLogits());
        return DecoderConfigKeys.finish(o, c, torchDtype);
    }

    /** generation_config.json: the special token ids, as transformers writes it. */
    static ObjectNode generationConfig(MoeConfig c) {
        return DecoderConfigKeys.generationConfig(c);
    }
}
