package ai.omnispark.models.moe;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.decoder.PackedRows;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Tiny MoE configs, packed rows and forward helpers shared by the MoE tests. */
final class TinyMoe {
    private TinyMoe() {}

    /**
     * Three layers with layer 1 in mlp_only_layers (sparse, dense, sparse), 4 experts, top-2;
     * Qwen3-MoE renormalises the top-k weights, Qwen2-MoE does not and adds its shared expert and
     * q/k/v bias. A large aux coefficient so the load-balancing gradient is not lost under the CE's.
     */
    static ObjectNode json(String family, boolean tied) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("model_type", family);
        o.put("vocab_size", 11);
        o.put("hidden_size", 8);
        o.put("intermediate_size", 12);
        o.put("num_hidden_layers", 3);
        o.put("num_attention_heads", 2);
        o.put("num_key_value_heads", 1);
        o.put("head_dim", 4);
        o.put("rope_theta", 100.0);
        o.put("tie_word_embeddings", tied);
        o.put("initializer_range", 0.5);
        o.put("num_experts", 4);
        o.put("num_experts_per_tok", 2);
        o.put("moe_intermediate_size", 6);
        o.put("decoder_sparse_step", 1);
        o.putArray("mlp_only_layers").add(1);
        o.put("norm_topk_prob", family.equals("qwen3_moe"));
        o.put("output_router_logits", true);
        o.put("router_aux_loss_coef", 0.3);
        o.put("bos_token_id", 1);
        o.put("eos_token_id", 2);
        if (family.equals("qwen2_moe")) {
            o.put("shared_expert_intermediate_size", 5);
        }
        return o;
    }

    static MoeLM model(ObjectNode json, String attention) {
        return new MoeLM(MoeConfigJson.parse(json), AttentionImpl.parse(attention), Attention.DEFAULT_BLOCK, 0);
    }

    /** Two rows of {@code seqLen}; row 0 packs three documents, row 1 two and a padded tail. */
    static List<Sample> packedRows(int seqLen, int vocab, long seed) {
        int[][] columns = PackedRows.columns(seqLen, vocab, seed);
        List<Sample> rows = new ArrayList<>();
        for (int row = 0; row < 2; row++) {
            int from = row * seqLen;
            int to = from + seqLen;
            rows.add(Sample.tokens(Arrays.copyOfRange(columns[0], from, to), Arrays.copyOfRange(columns[1], from, to),
                    Arrays.copyOfRange(columns[2], from, to), Arrays.copyOfRange(columns[3], from, to)));
        }
        return rows;
    }

    static long labelled(List<Sample> rows) {
        long n = 0;
        for (Sample s : rows) {
            for (int l : s.ints(Sample.LABELS)) {
                n += l == Sample.IGNORE ? 0 : 1;
            }
        }
        return n;
    }

    /** The training head's outputs, summed (CE sum, and the aux term when on), forward only. */
    static double[] terms(NDManager parent, MoeLM model, LocalParams params, DataType dtype, List<Sample> rows) {
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = model.collator().collate(scope, rows, dtype, null);
            SegmentEngine engine = new SegmentEngine(model.trainingSegments(), model.units(), Recompute.none());
            return values(engine.forward(scope, batch, new NDList(), params));
        }
    }

    /** (CE sum + aux term) / labelled tokens: the trainer's loss of one micro-batch on one rank. */
    static double loss(NDManager parent, MoeLM model, LocalParams params, DataType dtype, List<Sample> rows) {
        double sum = 0;
        for (double v : terms(parent, model, params, dtype, rows)) {
            sum += v;
        }
        return sum / labelled(rows);
    }

    /** Forward and backward seeded as the trainer seeds one micro-batch; returns the head outputs. */
    static double[] lossAndGrad(NDManager parent, MoeLM model, LocalParams params, DataType dtype, List<Sample> rows,
            long globalLabelled, Recompute recompute) {
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = model.collator().collate(scope, rows, dtype, null);
            SegmentEngine engine = new SegmentEngine(model.trainingSegments(), model.units(), recompute);
            NDList seeds = model.objective().seeds(scope, globalLabelled, dtype);
            return values(engine.forwardBackward(scope, batch, new NDList(), seeds, params));
        }
    }

    /** Logits [rows * seqLen * vocab] of the evaluation segments. */
    static double[] logits(NDManager parent, MoeLM model, LocalParams params, DataType dtype, List<Sample> rows) {
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = model.collator().collate(scope, rows, dtype, null);
            SegmentEngine engine = new SegmentEngine(model.evaluationSegments(), model.units(), Recompute.none());
            return engine.forward(scope, batch, new NDList(), params).singletonOrThrow()
                    .toType(DataType.FLOAT64, false).toDoubleArray();
        }
    }

    /** Every parameter's values by name, in float64. */
    static Map<String, double[]> weights(MoeLM model, LocalParams params) {
        Map<String, double[]> w = new HashMap<>();
        for (UnitLayout u : model.units()) {
            double[] flat = params.weights(u.name()).toType(DataType.FLOAT64, false).toDoubleArray();
            for (var p : u.params()) {
                int start = (int) u.offset(p.name());
                w.put(p.name(), java.util.Arrays.copyOfRange(flat, start, start + (int) p.numel()));
            }
        }
        return w;
    }

    private static double[] values(NDList out) {
        double[] v = new double[out.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = out.get(i).toType(DataType.FLOAT64, false).getDouble();
        }
        return v;
    }
}
