package ai.omnispark.models.wan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.Arrays;
import java.util.List;

/**
 * Latent rows ({@link Sample#latents}) to a flow-matching batch ({@link WanBatch}'s keys). Per
 * sample, in order, it draws from the rank's generator its timestep, its text dropout and its noise
 * ({@link FlowMatching#draw}); x_t goes into hidden_states, eps - x0 into the target. Text dropout
 * replaces the text embedding by zeros: the empty prompt of the byte-level text embedder (its
 * padding rows are zeros). Image-to-video rows need cond_latents: hidden_states =
 * concat(x_t, mask, cond_latents) on channels, the 4-channel mask 1 on the first latent frame and 0
 * after it, as diffusers' WanImageToVideoPipeline builds it. Evaluation (no generator) draws from a
 * fixed-seed one, without text dropout, so an evaluation loss is the same every time.
 */
public final class WanCollator implements Collator {
    /** The mask channels of an image-to-video input. */
    public static final int MASK_CHANNELS = 4;
    /** Seed of the generator an evaluation batch draws its noise and timesteps from. */
    static final long EVAL_SEED = 20250311L;

    private final WanConfig config;
    private final FlowMatching flow;

    public WanCollator(WanConfig config, FlowMatching flow) {
        this.config = config;
        this.flow = flow;
    }

    @Override
    public Batch collate(NDManager scope, List<Sample> samples, DataType dtype, RankRandom random) {
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("a wan batch needs at least one sample");
        }
        boolean training = random != null;
        RankRandom draws = training ? random : new RankRandom(EVAL_SEED, 0);
        int b = samples.size();
        int[] latentShape = null;
        int[] textShape = null;
        int[] imageShape = null;
        for (Sample s : samples) {
            if (s.layout() != SampleLayout.LATENTS) {
                throw new IllegalArgumentException("the wan family takes latent rows (layout latents), got a "
                        + s.layout().key() + " row");
            }
            latentShape = same(latentShape, s.ints(Sample.LATENT_SHAPE), Sample.LATENT_SHAPE, 4);
            textShape = same(textShape, s.ints(Sample.TEXT_EMBEDS_SHAPE), Sample.TEXT_EMBEDS_SHAPE, 2);
            check(s.floats(Sample.LATENTS), latentShape, Sample.LATENTS);
            check(s.floats(Sample.TEXT_EMBEDS), textShape, Sample.TEXT_EMBEDS);
            if (config.isImageToVideo()) {
                if (!s.has(Sample.IMAGE_EMBEDS)) {
                    throw new IllegalArgumentException("this image-to-video model (added_kv_proj_dim set) needs "
                            + Sample.IMAGE_EMBEDS + " [257, image_dim = " + config.imageDim() + "] in every row");
                }
                imageShape = same(imageShape, s.ints(Sample.IMAGE_EMBEDS_SHAPE), Sample.IMAGE_EMBEDS_SHAPE, 2);
                check(s.floats(Sample.IMAGE_EMBEDS), imageShape, Sample.IMAGE_EMBEDS);
            }
        }
        int c = latentShape[0];
        boolean i2v = config.inChannels() == 2 * c + MASK_CHANNELS;
        if (c != config.outChannels() || (!i2v && config.inChannels() != c)) {
            throw new IllegalArgumentException("latents of " + c + " channels do not fit this model: out_channels "
                    + config.outChannels() + " and in_channels " + config.inChannels() + " (text-to-video: C; "
                    + "image-to-video: 2 C + " + MASK_CHANNELS + ")");
        }
        if (textShape[1] != config.textDim()) {
            throw new IllegalArgumentException(Sample.TEXT_EMBEDS + " are " + textShape[1] + " wide; text_dim is "
                    + config.textDim());
        }
        int frameElems = latentShape[2] * latentShape[3];
        int elems = c * latentShape[1] * frameElems;
        int inElems = config.inChannels() * latentShape[1] * frameElems;
        int textElems = textShape[0] * textShape[1];
        double[] hidden = new double[b * inElems];
        double[] target = new double[b * elems];
        double[] timesteps = new double[b];
        double[] weights = new double[b];
        double[] text = new double[b * textElems];
        double[] image = imageShape == null ? null : new double[b * imageShape[0] * imageShape[1]];
        for (int n = 0; n < b; n++) {
            Sample s = samples.get(n);
            FlowMatching.Draw d = flow.draw(draws, elems, training);
            float[] x0 = s.floats(Sample.LATENTS);
            for (int k = 0; k < elems; k++) {
                hidden[n * inElems + k] = (1 - d.sigma()) * x0[k] + d.sigma() * d.noise()[k];
                target[n * elems + k] = d.noise()[k] - x0[k];
            }
            if (i2v) {
                if (!s.has(Sample.COND_LATENTS)) {
                    throw new IllegalArgumentException("this image-to-video model (in_channels " + config.inChannels()
                            + " = 2 C + 4) needs " + Sample.COND_LATENTS + " in every row");
                }
                float[] cond = s.floats(Sample.COND_LATENTS);
                check(cond, latentShape, Sample.COND_LATENTS);
                float[] condition = conditionChannels(cond, latentShape);
                for (int k = 0; k < condition.length; k++) {
                    hidden[n * inElems + elems + k] = condition[k];
                }
            }
            timesteps[n] = d.timestep();
            weights[n] = d.weight();
            if (!d.dropText()) {
                float[] t = s.floats(Sample.TEXT_EMBEDS);
                for (int k = 0; k < textElems; k++) {
                    text[n * textElems + k] = t[k];
                }
            }
            if (image != null) {
                float[] im = s.floats(Sample.IMAGE_EMBEDS);
                int per = imageShape[0] * imageShape[1];
                for (int k = 0; k < per; k++) {
                    image[n * per + k] = im[k];
                }
            }
        }
        long f = latentShape[1];
        long h = latentShape[2];
        long w = latentShape[3];
        Batch batch = WanBatch.inputs(scope, config, dtype,
                tensor(scope, hidden, dtype, b, config.inChannels(), f, h, w), tensor(scope, timesteps, dtype, b),
                tensor(scope, text, dtype, b, textShape[0], textShape[1]),
                image == null ? null : tensor(scope, image, dtype, b, imageShape[0], imageShape[1]));
        batch.put(WanBatch.TARGET, tensor(scope, target, dtype, b, c, f, h, w));
        batch.put(WanBatch.LOSS_WEIGHT, tensor(scope, weights, dtype, b));
        return batch;
    }

    /**
     * The channels an image-to-video input carries after x_t: the {@link #MASK_CHANNELS}-channel mask
     * (1 on the first latent frame, 0 after it) followed by {@code condLatents}, shape
     * (4 + C, F, H, W) row-major for latents of {@code latentShape} (C, F, H, W). Training and
     * sampling both build their input as concat(x_t, these) on channels.
     */
    public static float[] conditionChannels(float[] condLatents, int[] latentShape) {
        check(condLatents, latentShape, Sample.COND_LATENTS);
        int frameElems = latentShape[2] * latentShape[3];
        int channelElems = latentShape[1] * frameElems;
        float[] out = new float[MASK_CHANNELS * channelElems + condLatents.length];
        for (int m = 0; m < MASK_CHANNELS; m++) {
            Arrays.fill(out, m * channelElems, m * channelElems + frameElems, 1f);
        }
        System.arraycopy(condLatents, 0, out, MASK_CHANNELS * channelElems, condLatents.length);
        return out;
    }

    private static NDArray tensor(NDManager scope, double[] values, DataType dtype, long... shape) {
        return Ops.owned(scope.create(values, new Shape(shape)), dtype);
    }

    private static int[] same(int[] seen, int[] shape, String column, int rank) {
        if (shape.length != rank) {
            throw new IllegalArgumentException(column + " must have " + rank + " dims, got " + Arrays.toString(shape));
        }
        if (seen != null && !Arrays.equals(seen, shape)) {
            throw new IllegalArgumentException("the rows of one micro-batch must agree in " + column + ": "
                    + Arrays.toString(seen) + " and " + Arrays.toString(shape) + " (use a micro-batch of 1 for "
                    + "mixed shapes)");
        }
        return shape;
    }

    private static void check(float[] values, int[] shape, String column) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (values.length != n) {
            throw new IllegalArgumentException(column + " holds " + values.length + " values, its shape "
                    + Arrays.toString(shape) + " says " + n);
        }
    }
}
