package ai.omnispark.models.wan;

/**
 * A diffusers {@code WanTransformer3DModel} config (Wan 2.1 T2V and I2V), field for field.
 *
 * @param patchSize (pt, ph, pw) of the Conv3d patch embedding
 * @param qkNorm diffusers' qk_norm string; the q/k RMSNorm over all of D is applied whatever it says (as diffusers does)
 * @param imageDim width of the CLIP image tokens (I2V), or null
 * @param addedKvProjDim input width of attn2's add_k_proj/add_v_proj (I2V), or null for T2V
 * @param posEmbedSeqLen the image embedder's position embedding length, or null (the only value supported)
 */
public record WanConfig(int[] patchSize, int numAttentionHeads, int attentionHeadDim, int inChannels, int outChannels,
        int textDim, int freqDim, int ffnDim, int numLayers, boolean crossAttnNorm, String qkNorm, double eps,
        Integer imageDim, Integer addedKvProjDim, int ropeMaxSeqLen, Integer posEmbedSeqLen) {
    public static final String CLASS_NAME = "WanTransformer3DModel";

    public WanConfig {
        if (patchSize == null || patchSize.length != 3) {
            throw new IllegalArgumentException("patch_size must be [pt, ph, pw], got "
                    + (patchSize == null ? null : java.util.Arrays.toString(patchSize)));
        }
        patchSize = patchSize.clone();
        for (int p : patchSize) {
            positive("patch_size", p);
        }
        positive("num_attention_heads", numAttentionHeads);
        positive("attention_head_dim", attentionHeadDim);
        positive("in_channels", inChannels);
        positive("out_channels", outChannels);
        positive("text_dim", textDim);
        positive("freq_dim", freqDim);
        positive("ffn_dim", ffnDim);
        positive("num_layers", numLayers);
        positive("rope_max_seq_len", ropeMaxSeqLen);
        if (attentionHeadDim % 2 != 0 || 2 * (attentionHeadDim / 6) * 2 >= attentionHeadDim) {
            throw new IllegalArgumentException("attention_head_dim must be even and leave the frame axis rotary dims "
                    + "(head_dim - 4 * (head_dim / 6) > 0), got " + attentionHeadDim);
        }
        if (freqDim % 2 != 0) {
            throw new IllegalArgumentException("freq_dim must be even ([cos, sin] halves), got " + freqDim);
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("eps must be > 0, got " + eps);
        }
        if ((imageDim == null) != (addedKvProjDim == null)) {
            throw new IllegalArgumentException("image_dim (" + imageDim + ") and added_kv_proj_dim (" + addedKvProjDim
                    + ") must both be set (image-to-video) or both be null (text-to-video)");
        }
        if (imageDim != null) {
            positive("image_dim", imageDim);
            positive("added_kv_proj_dim", addedKvProjDim);
            if (addedKvProjDim != numAttentionHeads * attentionHeadDim) {
                throw new IllegalArgumentException("added_kv_proj_dim must equal num_attention_heads * attention_head_dim"
                        + " = " + numAttentionHeads * attentionHeadDim + " (its input is the image embedder's output), got "
                        + addedKvProjDim);
            }
        }
        if (posEmbedSeqLen != null) {
            throw new IllegalArgumentException("pos_embed_seq_len = " + posEmbedSeqLen + " (the image embedder's "
                    + "position embedding of Wan FLF2V) is not supported yet; it must be null");
        }
    }

    private static void positive(String key, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(key + " must be > 0, got " + value);
        }
    }

    @Override
    public int[] patchSize() {
        return patchSize.clone();
    }

    /** D = num_attention_heads * attention_head_dim. */
    public int dim() {
        return numAttentionHeads * attentionHeadDim;
    }

    public boolean isImageToVideo() {
        return addedKvProjDim != null;
    }

    /** pt * ph * pw. */
    public int patchVolume() {
        return patchSize[0] * patchSize[1] * patchSize[2];
    }

    /** Rotary dims per head of the height and the width axis each: 2 * floor(head_dim / 6). */
    public int ropeHeightDims() {
        return 2 * (attentionHeadDim / 6);
    }

    /** Rotary dims per head of the frame axis: the rest. */
    public int ropeFrameDims() {
        return attentionHeadDim - 2 * ropeHeightDims();
    }

    public long parameterCount() {
        long n = 0;
        for (ai.omnispark.parallel.param.UnitLayout u : WanLayouts.units(this)) {
            n += u.numel();
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WanConfig c && java.util.Arrays.equals(patchSize, c.patchSize)
                && numAttentionHeads == c.numAttentionHeads && attentionHeadDim == c.attentionHeadDim
                && inChannels == c.inChannels && outChannels == c.outChannels && textDim == c.textDim
                && freqDim == c.freqDim && ffnDim == c.ffnDim && numLayers == c.numLayers
                && crossAttnNorm == c.crossAttnNorm && java.util.Objects.equals(qkNorm, c.qkNorm) && eps == c.eps
                && java.util.Objects.equals(imageDim, c.imageDim)
                && java.util.Objects.equals(addedKvProjDim, c.addedKvProjDim) && ropeMaxSeqLen == c.ropeMaxSeqLen
                && java.util.Objects.equals(posEmbedSeqLen, c.posEmbedSeqLen);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(java.util.Arrays.hashCode(patchSize), numAttentionHeads, attentionHeadDim,
                inChannels, outChannels, textDim, numLayers);
    }
}
