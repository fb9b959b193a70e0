package ai.omnispark.models.wan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Batch;

/**
 * The batch keys the Wan segments read, as diffusers names its forward arguments, and the 3-D
 * rotary tables. A batch holds {@link #HIDDEN_STATES} [B, in_channels, F, H, W], {@link #TIMESTEP}
 * [B] (0..1000), {@link #ENCODER_HIDDEN_STATES} [B, L, text_dim], image-to-video
 * {@link #ENCODER_HIDDEN_STATES_IMAGE} [B, 257, image_dim], the tables {@link #ROPE_COS} /
 * {@link #ROPE_SIN} [F' H' W', head_dim], and for training {@link #TARGET} [B, out_channels, F, H,
 * W] and {@link #LOSS_WEIGHT} [B].
 */
public final class WanBatch {
    public static final String HIDDEN_STATES = "wan.hidden_states";
    public static final String TIMESTEP = "wan.timestep";
    public static final String ENCODER_HIDDEN_STATES = "wan.encoder_hidden_states";
    public static final String ENCODER_HIDDEN_STATES_IMAGE = "wan.encoder_hidden_states_image";
    public static final String TARGET = "wan.target";
    public static final String LOSS_WEIGHT = "wan.loss_weight";
    public static final String ROPE_COS = "wan.rope_cos";
    public static final String ROPE_SIN = "wan.rope_sin";
    /**
     * Under Ulysses, in place of {@link #HIDDEN_STATES}: this sp rank's patches [B, S/P, in_channels pt ph pw]
     * ({@link WanPatchTokens}).
     */
    public static final String PATCHES = "wan.patches";
    /** Under Ulysses, in place of {@link #TARGET}: this sp rank's target tokens [B, S/P, pt ph pw out_channels]. */
    public static final String TARGET_TOKENS = "wan.target_tokens";
    /** Under Ulysses: [1], the target elements of one whole sample, the divisor of its mean squared error. */
    public static final String TARGET_ELEMENTS = "wan.target_elements";
    /** Rotary base of every axis. */
    static final double THETA = 10000;

    private WanBatch() {}

    /**
     * The inputs of one DiT forward as diffusers' WanTransformer3DModel.forward takes them, checked
     * against the config, with the rotary tables of their patch grid added. {@code image} may be
     * null (text-to-video). The arrays are put as given (converted to {@code dtype} when they differ).
     */
    public static Batch inputs(NDManager scope, WanConfig c, DataType dtype, NDArray hiddenStates, NDArray timestep,
            NDArray encoderHiddenStates, NDArray image) {
        Shape hs = hiddenStates.getShape();
        if (hs.dimension() != 5 || hs.get(1) != c.inChannels()) {
            throw new IllegalArgumentException("hidden_states must be [B, in_channels = " + c.inChannels()
                    + ", F, H, W], got " + hs);
        }
        long b = hs.get(0);
        int[] p = c.patchSize();
        for (int a = 0; a < 3; a++) {
            if (hs.get(2 + a) % p[a] != 0) {
                throw new IllegalArgumentException("hidden_states " + hs + ": its " + "FHW".charAt(a) + " (" + hs.get(2 + a)
                        + ") is not a multiple of patch_size " + java.util.Arrays.toString(p));
            }
        }
        if (!timestep.getShape().equals(new Shape(b))) {
            throw new IllegalArgumentException("timestep must be [B = " + b + "], got " + timestep.getShape());
        }
        Shape es = encoderHiddenStates.getShape();
        if (es.dimension() != 3 || es.get(0) != b || es.get(2) != c.textDim()) {
            throw new IllegalArgumentException("encoder_hidden_states must be [B = " + b + ", L, text_dim = "
                    + c.textDim() + "], got " + es);
        }
        if (c.isImageToVideo() != (image != null)) {
            throw new IllegalArgumentException(c.isImageToVideo()
                    ? "this image-to-video model (added_kv_proj_dim set) needs encoder_hidden_states_image [B, 257, "
                            + "image_dim = " + c.imageDim() + "]"
                    : "encoder_hidden_states_image was given, but this text-to-video model (no image_dim) takes none");
        }
        Batch batch = new Batch();
        batch.put(HIDDEN_STATES, as(hiddenStates, dtype));
        batch.put(TIMESTEP, as(timestep, dtype));
        batch.put(ENCODER_HIDDEN_STATES, as(encoderHiddenStates, dtype));
        if (image != null) {
            Shape is = image.getShape();
            if (is.dimension() != 3 || is.get(0) != b || is.get(2) != c.imageDim()) {
                throw new IllegalArgumentException("encoder_hidden_states_image must be [B = " + b
                        + ", tokens, image_dim = " + c.imageDim() + "], got " + is);
            }
            batch.put(ENCODER_HIDDEN_STATES_IMAGE, as(image, dtype));
        }
        NDArray[] rope = ropeTables(scope, c, dtype, (int) (hs.get(2) / p[0]), (int) (hs.get(3) / p[1]),
                (int) (hs.get(4) / p[2]));
        batch.put(ROPE_COS, rope[0]);
        batch.put(ROPE_SIN, rope[1]);
        return batch;
    }

    private static NDArray as(NDArray a, DataType dtype) {
        return a.getDataType() == dtype ? a : a.toType(dtype, false);
    }

    /**
     * diffusers' WanRotaryPosEmbed for a grid of f x h x w patches, tokens in (f, h, w) order:
     * [tokens, head_dim] cos and sin, each angle repeated on its interleaved pair (2j, 2j + 1). Pair j
     * rotates by the frame index for the first frame-dims/2 pairs, then by the row, then by the
     * column, with frequency theta^(-2k/d) within its axis of d dims.
     */
    public static NDArray[] ropeTables(NDManager scope, WanConfig c, DataType dtype, int f, int h, int w) {
        int max = c.ropeMaxSeqLen();
        if (f > max || h > max || w > max) {
            throw new IllegalArgumentException("a patch grid of " + f + " x " + h + " x " + w + " exceeds rope_max_seq_len "
                    + max);
        }
        int hd = c.attentionHeadDim();
        int[] dims = {c.ropeFrameDims(), c.ropeHeightDims(), c.ropeHeightDims()};
        int tokens = f * h * w;
        double[] cos = new double[tokens * hd];
        double[] sin = new double[tokens * hd];
        for (int s = 0; s < tokens; s++) {
            int[] pos = {s / (h * w), (s / w) % h, s % w};
            int pair = 0;
            for (int axis = 0; axis < 3; axis++) {
                for (int k = 0; k < dims[axis] / 2; k++, pair++) {
                    double angle = pos[axis] / Math.pow(THETA, 2.0 * k / dims[axis]);
                    cos[s * hd + 2 * pair] = cos[s * hd + 2 * pair + 1] = Math.cos(angle);
                    sin[s * hd + 2 * pair] = sin[s * hd + 2 * pair + 1] = Math.sin(angle);
                }
            }
        }
        Shape shape = new Shape(tokens, hd);
        return new NDArray[] {Ops.owned(scope.create(cos, shape), dtype), Ops.owned(scope.create(sin, shape), dtype)};
    }
}
