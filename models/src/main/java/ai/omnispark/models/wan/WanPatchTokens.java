package ai.omnispark.models.wan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.lora.LoraAdapters;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.ulysses.SequenceShards;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.List;

/**
 * The model's batch of whole samples in token form, so that Ulysses ({@link SequenceShards}) can cut
 * it by token: hidden_states becomes {@link WanBatch#PATCHES} (what the embedding's Conv3d reads, one
 * row per patch token) and the target becomes {@link WanBatch#TARGET_TOKENS} (what the head's
 * proj_out writes per token, before unpatchify), with {@link WanBatch#TARGET_ELEMENTS} for the
 * per-sample mean. A contiguous token slice of a sample is then a contiguous range of both.
 */
final class WanPatchTokens implements Collator {
    private final Collator model;
    private final WanConfig config;

    WanPatchTokens(Collator model, WanConfig config) {
        this.model = model;
        this.config = config;
    }

    @Override
    public Batch collate(NDManager scope, List<Sample> samples, DataType dtype, RankRandom random) {
        Batch whole = model.collate(scope, samples, dtype, random);
        Batch tokens = new Batch();
        for (String key : whole.keys()) {
            NDArray a = whole.get(key);
            switch (key) {
                case WanBatch.HIDDEN_STATES -> {
                    tokens.put(WanBatch.PATCHES, owned(WanOps.patchify(a, config.patchSize())));
                    a.close();
                }
                case WanBatch.TARGET -> {
                    long elements = a.getShape().size() / a.getShape().get(0);
                    tokens.put(WanBatch.TARGET_TOKENS, owned(WanOps.outputTokens(a, config.patchSize())));
                    tokens.put(WanBatch.TARGET_ELEMENTS, Ops.owned(scope.create(new double[] {elements}), dtype));
                    a.close();
                }
                default -> tokens.put(key, a);
            }
        }
        return tokens;
    }

    /** A copy that owns its memory (the permuted view of a whole-sample array goes with it). */
    private static NDArray owned(NDArray view) {
        NDArray copy = view.duplicate();
        view.close();
        return copy;
    }

    /** The patch tokens of a latent row, F' H' W', checked to divide over {@code p} sp ranks. */
    static int tokens(Sample s, WanConfig config, int p) {
        int[] shape = s.ints(Sample.LATENT_SHAPE);
        int[] patch = config.patchSize();
        int tokens = 1;
        for (int a = 0; a < 3; a++) {
            tokens *= shape[1 + a] / patch[a];
        }
        if (tokens % p != 0) {
            throw new IllegalArgumentException("Ulysses splits each sample's patch tokens over the sp ranks, but a latent "
                    + "of shape " + java.util.Arrays.toString(shape) + " with patch_size "
                    + java.util.Arrays.toString(patch) + " has " + tokens + " tokens, not divisible by the ulysses size ("
                    + p + "); choose a ulysses size that divides the token count (video tokens are not padded: padding "
                    + "would join the unmasked self-attention)");
        }
        return tokens;
    }

    /** How the sp ranks share the token-form batch: the patch, target and rotary rows and the token-wise LoRA masks by token. */
    static SequenceShards.Split split(String key) {
        switch (key) {
            case WanBatch.PATCHES, WanBatch.TARGET_TOKENS:
                return SequenceShards.Split.tokens(1);
            case WanBatch.ROPE_COS, WanBatch.ROPE_SIN:
                return SequenceShards.Split.tokens(0);
            case WanBatch.TIMESTEP, WanBatch.ENCODER_HIDDEN_STATES, WanBatch.ENCODER_HIDDEN_STATES_IMAGE,
                    WanBatch.LOSS_WEIGHT, WanBatch.TARGET_ELEMENTS:
                return SequenceShards.Split.whole();
            default:
                break;
        }
        String lora = LoraAdapters.dropoutMaskKey("");
        if (key.startsWith(lora)) {
            // attn2's keys and values read the text or image context, which every sp rank holds whole.
            return WanModel.readsContext(key.substring(lora.length())) ? SequenceShards.Split.whole()
                    : SequenceShards.Split.tokens(1);
        }
        return null;
    }
}
