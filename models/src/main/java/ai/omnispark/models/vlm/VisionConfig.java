package ai.omnispark.models.vlm;

import ai.omnispark.models.decoder.DecoderConfigKeys;

/**
 * The vision tower of a Qwen2-VL model, as {@code config.json}'s {@code vision_config} holds it:
 * {@code depth} ViT blocks of width {@code embed_dim} over patches of {@code in_channels} x
 * {@code temporal_patch_size} x {@code patch_size}^2 pixels, and a merger from
 * {@code spatial_merge_size}^2 neighbouring patches to one token of width {@code hidden_size} (the
 * language model's).
 *
 * @param hiddenAct the blocks' MLP activation; only quick_gelu (transformers' default) is supported
 */
public record VisionConfig(int depth, int embedDim, int hiddenSize, String hiddenAct, double mlpRatio, int numHeads,
        int inChannels, int patchSize, int spatialMergeSize, int temporalPatchSize) {
    /** The only activation the blocks implement: {@code x * sigmoid(1.702 x)}. */
    public static final String QUICK_GELU = "quick_gelu";
    /** LayerNorm epsilon of the blocks and the merger, fixed in transformers' code. */
    public static final double LAYER_NORM_EPS = 1e-6;
    /** Base of the vision tower's 2-D rotary frequencies, fixed in transformers' code. */
    public static final double ROPE_THETA = 10000;

    public VisionConfig {
        DecoderConfigKeys.positive("vision_config.depth", depth);
        DecoderConfigKeys.positive("vision_config.embed_dim", embedDim);
        DecoderConfigKeys.positive("vision_config.hidden_size", hiddenSize);
        DecoderConfigKeys.positive("vision_config.num_heads", numHeads);
        DecoderConfigKeys.positive("vision_config.in_channels", inChannels);
        DecoderConfigKeys.positive("vision_config.patch_size", patchSize);
        DecoderConfigKeys.positive("vision_config.spatial_merge_size", spatialMergeSize);
        DecoderConfigKeys.positive("vision_config.temporal_patch_size", temporalPatchSize);
        if (!QUICK_GELU.equals(hiddenAct)) {
            throw new IllegalArgumentException("vision_config.hidden_act '" + hiddenAct + "' is not supported; only "
                    + QUICK_GELU);
        }
        if (!(mlpRatio > 0) || Double.isInfinite(mlpRatio) || (int) (embedDim * mlpRatio) <= 0) {
            throw new IllegalArgumentException("vision_config.mlp_ratio must be > 0 and give an MLP of at least one unit, got "
                    + mlpRatio);
        }
        if (embedDim % numHeads != 0) {
            throw new IllegalArgumentException("vision_config.embed_dim (" + embedDim
                    + ") must be a multiple of vision_config.num_heads (" + numHeads + ")");
        }
        if ((embedDim / numHeads) % 4 != 0) {
            throw new IllegalArgumentException("the vision head_dim (embed_dim / num_heads = " + embedDim / numHeads
                    + ") must be a multiple of 4: its rotary half splits into patch row and column halves");
        }
    }

    public int headDim() {
        return embedDim / numHeads;
    }

    /** Width of the blocks' MLP: {@code int(embed_dim * mlp_ratio)}, as transformers computes it. */
    public int mlpHidden() {
        return (int) (embedDim * mlpRatio);
    }

    /** Pixels per patch row of {@code pixel_values}: C * tp * p * p. */
    public int patchDim() {
        return inChannels * temporalPatchSize * patchSize * patchSize;
    }

    /** Width of the merger's input: m^2 patches of embed_dim side by side. */
    public int mergedDim() {
        return embedDim * spatialMergeSize * spatialMergeSize;
    }

    /** Patches merged into one token: m^2. */
    public int patchesPerToken() {
        return spatialMergeSize * spatialMergeSize;
    }

    public VisionGeometry geometry() {
        return new VisionGeometry(inChannels, patchSize, temporalPatchSize, spatialMergeSize);
    }

    long parameterCount() {
        long e = embedDim;
        long block = 4 * e + (3 * e * e + 3 * e) + (e * e + e) + 2 * (e * mlpHidden()) + mlpHidden() + e;
        long merged = mergedDim();
        long merger = 2 * e + merged * merged + merged + (long) hiddenSize * merged + hiddenSize;
        return e * patchDim() + depth * block + merger;
    }
}
