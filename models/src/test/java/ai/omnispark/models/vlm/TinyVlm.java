package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.FrozenParts;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.engine.UnitParams;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A tiny Qwen2-VL and a hand-built micro-batch for it, standing in for v2's collator (not on this
 * branch): two rows of {@value #SEQ}. Row 0 packs two documents, each with one image of a different
 * size (grids (1, 2, 2) and (1, 4, 2) patches: 1 and 2 vision tokens) and a padded tail; row 1 is
 * one document with a video of two frame groups (grid (2, 2, 2): 2 vision tokens). The batch holds
 * exactly the keys the contract names; the 3-D positions are written out from transformers'
 * get_rope_index rules, and the M-RoPE and vision rotary tables are computed here from them.
 */
final class TinyVlm {
    static final int SEQ = 16;
    static final int IMAGE = 28;
    static final int VIDEO = 29;
    static final int START = 30;
    static final int END = 31;
    private static final int P = TokenBatch.IGNORE;

    /** Input ids; -1 on padding (written as 0). */
    static final int[] IDS = {
        5, START, IMAGE, END, 6, 7, 8, START, IMAGE, IMAGE, END, 9, 10, -1, -1, -1,
        11, START, VIDEO, VIDEO, END, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22};
    static final int[] DOCS = {
        0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    /**
     * (t, h, w) positions as get_rope_index gives them, restarting per document: text advances all
     * three; a media token at start index s takes (s + t, s + h, s + w) over its merged grid; the
     * text after it continues from the largest position + 1.
     */
    static final int[][] POSITIONS = {
        {0, 1, 2, 3, 4, 5, 0, 1, 2, 2, 4, 5, 6, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
        {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 1, 2, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
        {0, 1, 2, 3, 4, 5, 0, 1, 2, 2, 4, 5, 6, 0, 0, 0, 0, 1, 2, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}};
    /** (t, h, w) in patches of each media, in placeholder order. */
    static final int[][] GRIDS = {{1, 2, 2}, {1, 4, 2}, {2, 2, 2}};
    /** Flat (row * SEQ + position) of every placeholder, in media order. */
    static final long[] MEDIA_TOKENS = {2, 8, 9, 16 + 2, 16 + 3};

    private TinyVlm() {}

    /**
     * ViT depth 2, embed 8, 2 heads (head_dim 4), MLP 16, patches of 3 x 2 x 2 x 2 = 24 pixels,
     * merge 2; decoder 2 layers of hidden 12, 2 heads (head_dim 6, M-RoPE sections 1/1/1), 1 kv head.
     */
    static ObjectNode json(boolean tied) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("model_type", "qwen2_vl");
        o.put("vocab_size", 32);
        o.put("hidden_size", 12);
        o.put("intermediate_size", 16);
        o.put("num_hidden_layers", 2);
        o.put("num_attention_heads", 2);
        o.put("num_key_value_heads", 1);
        o.put("rope_theta", 100.0);
        o.put("rms_norm_eps", 1e-6);
        o.put("tie_word_embeddings", tied);
        o.put("initializer_range", 0.4);
        o.putObject("rope_scaling").put("type", "mrope").putArray("mrope_section").add(1).add(1).add(1);
        o.put("bos_token_id", 1);
        o.put("eos_token_id", 2);
        o.put("image_token_id", IMAGE);
        o.put("video_token_id", VIDEO);
        o.put("vision_start_token_id", START);
        o.put("vision_end_token_id", END);
        ObjectNode v = o.putObject("vision_config");
        v.put("depth", 2);
        v.put("embed_dim", 8);
        v.put("hidden_size", 12);
        v.put("hidden_act", "quick_gelu");
        v.put("mlp_ratio", 2.0);
        v.put("num_heads", 2);
        v.put("in_channels", 3);
        v.put("patch_size", 2);
        v.put("spatial_merge_size", 2);
        v.put("temporal_patch_size", 2);
        return o;
    }

    static Qwen2VlModel model(ObjectNode json, String attention, int block) {
        return new Qwen2VlModel(Qwen2VlConfigJson.parse(json), AttentionImpl.parse(attention), block, 0,
                FrozenParts.NONE);
    }

    static Qwen2VlModel model(ObjectNode json, String attention) {
        return model(json, attention, ai.omnispark.models.nn.attention.Attention.DEFAULT_BLOCK);
    }

    /** Labels: an arbitrary in-vocabulary target on every text position, none on placeholders and padding. */
    static int[] labels() {
        int[] labels = new int[IDS.length];
        for (int i = 0; i < IDS.length; i++) {
            boolean text = IDS[i] >= 0 && IDS[i] != IMAGE && IDS[i] != VIDEO;
            labels[i] = text ? (IDS[i] * 7 + 3) % 28 : P;
        }
        return labels;
    }

    static long labelled() {
        return TokenBatch.lossTokens(labels());
    }

    /** Pixel rows of every media, [patches, 24], uniform in [-1, 1) from {@code seed}. */
    static double[][] pixels(VisionConfig v, long seed) {
        int patches = 0;
        for (int[] g : GRIDS) {
            patches += g[0] * g[1] * g[2];
        }
        SplittableRandom random = new SplittableRandom(seed);
        double[][] rows = new double[patches][v.patchDim()];
        for (double[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                row[i] = 2 * random.nextDouble() - 1;
            }
        }
        return rows;
    }

    /** The micro-batch with the tiny rows and {@code pixels}. */
    static Batch batch(NDManager scope, Qwen2VlConfig c, DataType dtype, double[][] pixels) {
        int rows = 2;
        int[] ids = new int[IDS.length];
        int[] flatPositions = new int[IDS.length];
        for (int i = 0; i < IDS.length; i++) {
            ids[i] = Math.max(IDS[i], 0);
        }
        Batch batch = TokenBatch.build(scope, c.vocabSize(), c.headDim(), c.ropeTheta(), dtype, rows, SEQ, ids, labels(),
                flatPositions, DOCS);
        NDArray[] mrope = mropeTables(scope, c, dtype);
        batch.put(TokenBatch.COS, mrope[0]);
        batch.put(TokenBatch.SIN, mrope[1]);
        VisionConfig v = c.vision();
        double[] flat = new double[pixels.length * v.patchDim()];
        for (int r = 0; r < pixels.length; r++) {
            System.arraycopy(pixels[r], 0, flat, r * v.patchDim(), v.patchDim());
        }
        batch.put(VlmBatch.PIXEL_VALUES, Ops.owned(scope.create(flat, new Shape(pixels.length, v.patchDim())), dtype));
        long[] grid = new long[GRIDS.length * 3];
        long[] groups = new long[GRIDS.length * 2];
        int n = 0;
        for (int m = 0; m < GRIDS.length; m++) {
            for (int k = 0; k < 3; k++) {
                grid[m * 3 + k] = GRIDS[m][k];
            }
            for (int t = 0; t < GRIDS[m][0]; t++) {
                groups[n++] = (long) GRIDS[m][1] * GRIDS[m][2];
            }
        }
        batch.put(VlmBatch.GRID_THW, Ops.owned(scope.create(grid, new Shape(GRIDS.length, 3)), DataType.INT64));
        batch.put(VlmBatch.VISION_SEGMENTS, Ops.owned(scope.create(Arrays.copyOf(groups, n)), DataType.INT64));
        batch.put(VlmBatch.MEDIA_TOKEN_INDEX, Ops.owned(scope.create(MEDIA_TOKENS), DataType.INT64));
        NDArray[] vision = visionTables(scope, v, dtype, pixels.length);
        batch.put(VlmBatch.VISION_ROPE_COS, vision[0]);
        batch.put(VlmBatch.VISION_ROPE_SIN, vision[1]);
        return batch;
    }

    /**
     * transformers' apply_multimodal_rotary_pos_emb: rotary channel i (and i + head_dim/2) takes its
     * angle from the t, h or w position by which of mrope_section's three runs holds i.
     */
    static NDArray[] mropeTables(NDManager scope, Qwen2VlConfig c, DataType dtype) {
        int hd = c.headDim();
        int half = hd / 2;
        int[] section = c.mropeSections();
        double[] cos = new double[IDS.length * hd];
        double[] sin = new double[IDS.length * hd];
        for (int p = 0; p < IDS.length; p++) {
            for (int i = 0; i < half; i++) {
                int axis = i < section[0] ? 0 : i < section[0] + section[1] ? 1 : 2;
                double angle = POSITIONS[axis][p] / Math.pow(c.ropeTheta(), 2.0 * i / hd);
                cos[p * hd + i] = cos[p * hd + half + i] = Math.cos(angle);
                sin[p * hd + i] = sin[p * hd + half + i] = Math.sin(angle);
            }
        }
        Shape shape = new Shape(2, 1, SEQ, hd);
        return new NDArray[] {Ops.owned(scope.create(cos, shape), dtype), Ops.owned(scope.create(sin, shape), dtype)};
    }

    /**
     * transformers' Qwen2VL rot_pos_emb: per patch (in merge-window order) the frequencies of
     * rotary dim head_dim/2 times its row, then times its column, the whole duplicated.
     */
    static NDArray[] visionTables(NDManager scope, VisionConfig v, DataType dtype, int patches) {
        int hd = v.headDim();
        int dim = hd / 2;
        int freqs = dim / 2;
        int m = v.spatialMergeSize();
        double[] cos = new double[patches * hd];
        double[] sin = new double[patches * hd];
        int p = 0;
        for (int[] g : GRIDS) {
            for (int t = 0; t < g[0]; t++) {
                for (int bh = 0; bh < g[1] / m; bh++) {
                    for (int bw = 0; bw < g[2] / m; bw++) {
                        for (int i = 0; i < m; i++) {
                            for (int j = 0; j < m; j++) {
                                int[] rc = {bh * m + i, bw * m + j};
                                for (int axis = 0; axis < 2; axis++) {
                                    for (int f = 0; f < freqs; f++) {
                                        double angle = rc[axis] / Math.pow(VisionConfig.ROPE_THETA, 2.0 * f / dim);
                                        int col = axis * freqs + f;
                                        cos[p * hd + col] = cos[p * hd + dim + col] = Math.cos(angle);
                                        sin[p * hd + col] = sin[p * hd + dim + col] = Math.sin(angle);
                                    }
                                }
                                p++;
                            }
                        }
                    }
                }
            }
        }
        Shape shape = new Shape(patches, hd);
        return new NDArray[] {Ops.owned(scope.create(cos, shape), dtype), Ops.owned(scope.create(sin, shape), dtype)};
    }

    /** The summed cross-entropy over the labelled tokens / their count: one micro-batch's trainer loss. */
    static double loss(NDManager parent, Qwen2VlModel model, LocalParams params, DataType dtype, double[][] pixels) {
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = batch(scope, model.config(), dtype, pixels);
            SegmentEngine engine = new SegmentEngine(model.trainingSegments(), model.units(), Recompute.none());
            return engine.forward(scope, batch, new NDList(), params).singletonOrThrow()
                    .toType(DataType.FLOAT64, false).getDouble() / labelled();
        }
    }

    /** Forward and backward seeded as the trainer seeds one micro-batch on one rank. */
    static void lossAndGrad(NDManager parent, Qwen2VlModel model, LocalParams params, DataType dtype, double[][] pixels,
            Recompute recompute) {
        lossAndGrad(parent, model, params, dtype, pixels, recompute, labelled());
    }

    /**
     * Forward and backward of one micro-batch of a global batch with {@code globalLabelled} labelled
     * tokens; the gradients add to those already in {@code params}. Returns the summed cross-entropy.
     */
    static double lossAndGrad(NDManager parent, Qwen2VlModel model, UnitParams params, DataType dtype,
            double[][] pixels, Recompute recompute, long globalLabelled) {
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = batch(scope, model.config(), dtype, pixels);
            SegmentEngine engine = new SegmentEngine(model.trainingSegments(), model.units(), recompute);
            return engine.forwardBackward(scope, batch, new NDList(), model.objective().seeds(scope, globalLabelled,
                    dtype), params).singletonOrThrow().toType(DataType.FLOAT64, false).getDouble();
        }
    }

    /** Logits [2 * SEQ * vocab] of the evaluation segments. */
    static double[] logits(NDManager parent, Qwen2VlModel model, LocalParams params, DataType dtype, double[][] pixels) {
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = batch(scope, model.config(), dtype, pixels);
            SegmentEngine engine = new SegmentEngine(model.evaluationSegments(), model.units(), Recompute.none());
            return engine.forward(scope, batch, new NDList(), params).singletonOrThrow()
                    .toType(DataType.FLOAT64, false).toDoubleArray();
        }
    }

    /** The merger's output, [vision tokens * hidden], from the vision segments alone. */
    static double[] visionTokens(NDManager parent, Qwen2VlModel model, LocalParams params, DataType dtype,
            double[][] pixels) {
        int visionSegments = model.config().vision().depth() + 2;
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = batch(scope, model.config(), dtype, pixels);
            SegmentEngine engine = new SegmentEngine(model.evaluationSegments().subList(0, visionSegments), model.units(),
                    Recompute.none());
            return engine.forward(scope, batch, new NDList(), params).singletonOrThrow()
                    .toType(DataType.FLOAT64, false).toDoubleArray();
        }
    }

    /** Every parameter's values by name, in float64. */
    static Map<String, double[]> weights(Qwen2VlModel model, LocalParams params) {
        Map<String, double[]> w = new HashMap<>();
        for (UnitLayout u : model.units()) {
            double[] flat = params.weights(u.name()).toType(DataType.FLOAT64, false).toDoubleArray();
            for (var p : u.params()) {
                int start = (int) u.offset(p.name());
                w.put(p.name(), Arrays.copyOfRange(flat, start, start + (int) p.numel()));
            }
        }
        return w;
    }
}
