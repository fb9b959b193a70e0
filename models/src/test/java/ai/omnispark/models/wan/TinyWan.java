package ai.omnispark.models.wan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.engine.UnitParams;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankRandom;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A tiny Wan DiT and latent rows for it: 2 blocks, 2 heads of 8 (rotary: 4 frame, 2 height, 2
 * width dims), ffn 32, freq_dim 8, text_dim 6, latents of 4 channels x 2 frames x 4 x 4 (patches
 * 1 x 2 x 2: 8 tokens), 3 text tokens; image-to-video: in_channels 12 = 2 x 4 + 4 and 3 image
 * tokens of 6.
 */
public final class TinyWan {
    public static final int C = 4;
    public static final int[] LATENT_SHAPE = {C, 2, 4, 4};
    public static final int[] TEXT_SHAPE = {3, 6};
    public static final int[] IMAGE_SHAPE = {3, 6};

    private TinyWan() {}

    public static ObjectNode json(boolean i2v) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("_class_name", "WanTransformer3DModel");
        o.put("_diffusers_version", "0.33.1");
        o.putArray("patch_size").add(1).add(2).add(2);
        o.put("num_attention_heads", 2);
        o.put("attention_head_dim", 8);
        o.put("in_channels", i2v ? 2 * C + 4 : C);
        o.put("out_channels", C);
        o.put("text_dim", TEXT_SHAPE[1]);
        o.put("freq_dim", 8);
        o.put("ffn_dim", 32);
        o.put("num_layers", 2);
        o.put("cross_attn_norm", true);
        o.put("qk_norm", "rms_norm_across_heads");
        o.put("eps", 1e-6);
        if (i2v) {
            o.put("image_dim", IMAGE_SHAPE[1]);
            o.put("added_kv_proj_dim", 16);
        } else {
            o.putNull("image_dim");
            o.putNull("added_kv_proj_dim");
        }
        o.put("rope_max_seq_len", 1024);
        o.putNull("pos_embed_seq_len");
        return o;
    }

    public static WanModel model(boolean i2v, String attention, DiffusionOptions diffusion) {
        return new WanModel(WanConfigJson.parse(json(i2v)), AttentionImpl.parse(attention), diffusion, null);
    }

    /** Every weight uniform in [-0.5, 0.5) from {@code seed}, so no gradient is zero by construction. */
    public static void randomize(LocalParams params, List<UnitLayout> units, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        for (UnitLayout u : units) {
            NDArray w = params.weights(u.name());
            double[] values = new double[(int) u.numel()];
            for (int i = 0; i < values.length; i++) {
                values[i] = random.nextDouble() - 0.5;
            }
            w.set(new NDIndex(":"), w.getManager().create(values).toType(w.getDataType(), false));
        }
    }

    /** {@code n} latent rows, uniform in [-1, 1) from {@code seed}; cond latents and image embeds when {@code i2v}. */
    public static List<Sample> samples(int n, boolean i2v, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<Sample> rows = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            float[] latents = uniform(random, C * 2 * 4 * 4);
            float[] text = uniform(random, TEXT_SHAPE[0] * TEXT_SHAPE[1]);
            float[] cond = i2v ? uniform(random, latents.length) : null;
            float[] image = i2v ? uniform(random, IMAGE_SHAPE[0] * IMAGE_SHAPE[1]) : null;
            rows.add(Sample.latents(latents, LATENT_SHAPE, text, TEXT_SHAPE, cond, image, i2v ? IMAGE_SHAPE : null));
        }
        return rows;
    }

    private static float[] uniform(SplittableRandom random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (2 * random.nextDouble() - 1);
        }
        return v;
    }

    /** The training batch of {@code samples} drawn from a fresh generator (seed, rank 0): the same batch every call. */
    public static Batch batch(NDManager scope, WanModel model, List<Sample> samples, DataType dtype, long seed) {
        return model.collator().collate(scope, samples, dtype, new RankRandom(seed, 0));
    }

    /** The loss (weighted per-sample MSE summed / samples) of one micro-batch. */
    public static double loss(NDManager parent, WanModel model, UnitParams params, DataType dtype, List<Sample> samples,
            long seed) {
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = batch(scope, model, samples, dtype, seed);
            SegmentEngine engine = new SegmentEngine(model.trainingSegments(), model.units(), Recompute.none());
            return engine.forward(scope, batch, new NDList(), params).singletonOrThrow()
                    .toType(DataType.FLOAT64, false).getDouble() / samples.size();
        }
    }

    /** Forward and backward seeded as the trainer seeds one micro-batch of the whole global batch. */
    public static double lossAndGrad(NDManager parent, WanModel model, UnitParams params, DataType dtype,
            List<Sample> samples, long seed, Recompute recompute) {
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = batch(scope, model, samples, dtype, seed);
            SegmentEngine engine = new SegmentEngine(model.trainingSegments(), model.units(), recompute);
            return engine.forwardBackward(scope, batch, new NDList(), model.objective().seeds(scope, samples.size(),
                    dtype), params).singletonOrThrow().toType(DataType.FLOAT64, false).getDouble() / samples.size();
        }
    }

    /**
     * Forward and backward of one micro-batch of a global batch of {@code globalSamples}, collated
     * with generator ({@code seed}, {@code rank}); gradients add to those in {@code params}. Returns
     * the micro-batch's weighted MSE sum.
     */
    public static double lossAndGrad(NDManager parent, WanModel model, UnitParams params, DataType dtype,
            List<Sample> samples, long seed, int rank, long globalSamples, Recompute recompute) {
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = model.collator().collate(scope, samples, dtype, new RankRandom(seed, rank));
            SegmentEngine engine = new SegmentEngine(model.trainingSegments(), model.units(), recompute);
            return engine.forwardBackward(scope, batch, new NDList(), model.objective().seeds(scope, globalSamples,
                    dtype), params).singletonOrThrow().toType(DataType.FLOAT64, false).getDouble();
        }
    }
}
