package ai.omnispark.models.vlm;

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
}
