package ai.omnispark.models.vlm;

import ai.omnispark.models.lora.LoraTargets;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The vision tower's parameter units in HF order: the patch embedding, one unit per ViT block (what
 * FSDP gathers at a time), the merger. Linears start as transformers' _init_weights starts them
 * (normal with the config's initializer_range, zero biases), LayerNorms at weight 1, bias 0.
 */
final class VisionLayouts {
    private VisionLayouts() {}

    static List<UnitLayout> units(Qwen2VlConfig c) {
        VisionConfig v = c.vision();
        Init normal = Init.normal(c.initializerRange());
        long e = v.embedDim();
        List<UnitLayout> units = new ArrayList<>();
        // A Conv3d whose kernel equals its stride: a linear over the flattened (C, tp, p, p) patch.
        units.add(new UnitLayout(VisionNames.PATCH_EMBED_UNIT, List.of(ParamSpec.of(VisionNames.PATCH_EMBED, normal, e,
                v.inChannels(), v.temporalPatchSize(), v.patchSize(), v.patchSize()))));
        for (int i = 0; i < v.depth(); i++) {
            List<ParamSpec> p = new ArrayList<>();
            p.add(ParamSpec.of(VisionNames.block(i, "norm1.weight"), Init.ones(), e));
            p.add(ParamSpec.of(VisionNames.block(i, "norm1.bias"), Init.zeros(), e));
            p.add(ParamSpec.of(VisionNames.block(i, "norm2.weight"), Init.ones(), e));
            p.add(ParamSpec.of(VisionNames.block(i, "norm2.bias"), Init.zeros(), e));
            p.add(ParamSpec.of(VisionNames.block(i, "attn.qkv.weight"), normal, 3 * e, e));
            p.add(ParamSpec.of(VisionNames.block(i, "attn.qkv.bias"), Init.zeros(), 3 * e));
            p.add(ParamSpec.of(VisionNames.block(i, "attn.proj.weight"), normal, e, e));
            p.add(ParamSpec.of(VisionNames.block(i, "attn.proj.bias"), Init.zeros(), e));
            p.add(ParamSpec.of(VisionNames.block(i, "mlp.fc1.weight"), normal, v.mlpHidden(), e));
            p.add(ParamSpec.of(VisionNames.block(i, "mlp.fc1.bias"), Init.zeros(), v.mlpHidden()));
            p.add(ParamSpec.of(VisionNames.block(i, "mlp.fc2.weight"), normal, e, v.mlpHidden()));
            p.add(ParamSpec.of(VisionNames.block(i, "mlp.fc2.bias"), Init.zeros(), e));
            units.add(new UnitLayout(VisionNames.blockUnit(i), p));
        }
        long merged = v.mergedDim();
        units.add(new UnitLayout(VisionNames.MERGER_UNIT, List.of(
                ParamSpec.of(VisionNames.merger("ln_q.weight"), Init.ones(), e),
                ParamSpec.of(VisionNames.merger("ln_q.bias"), Init.zeros(), e),
                ParamSpec.of(VisionNames.merger("mlp.0.weight"), normal, merged, merged),
                ParamSpec.of(VisionNames.merger("mlp.0.bias"), Init.zeros(), merged),
                ParamSpec.of(VisionNames.merger("mlp.2.weight"), normal, v.hiddenSize(), merged),
                ParamSpec.of(VisionNames.merger("mlp.2.bias"), Init.zeros(), v.hiddenSize()))));
        return units;
    }

    /** The ViT block linears a LoRA config may name, in the order a block computes them. */
    static final String LORA_KINDS = "attn.qkv, attn.proj, mlp.fc1 and mlp.fc2 of every visual.blocks.i";

    /**
     * The ViT blocks' linears as LoRA candidates, block by block in the order a block computes them,
     * each in its block's unit. The patch embedding (a Conv3d in HF) and the merger are not adaptable.
     */
    static List<LoraTargets.Candidate> loraCandidates(VisionConfig v) {
        long e = v.embedDim();
        List<LoraTargets.Candidate> all = new ArrayList<>();
        for (int i = 0; i < v.depth(); i++) {
            String unit = VisionNames.blockUnit(i);
            all.add(new LoraTargets.Candidate(unit, VisionNames.block(i, "attn.qkv"), e, 3 * e));
            all.add(new LoraTargets.Candidate(unit, VisionNames.block(i, "attn.proj"), e, e));
            all.add(new LoraTargets.Candidate(unit, VisionNames.block(i, "mlp.fc1"), e, v.mlpHidden()));
            all.add(new LoraTargets.Candidate(unit, VisionNames.block(i, "mlp.fc2"), v.mlpHidden(), e));
        }
        return all;
    }
}
