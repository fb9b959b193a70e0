package ai.omnispark.models.moe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.ModelMetrics;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the sparse layers of one rank's MoE model routed since the last {@link #clear}: per sparse
 * layer, the tokens each expert received (top-k slots among non-padding tokens), the summed softmax
 * probability of each expert and the routed tokens. Recorded by {@link MoeMlp} from the routing of
 * the tokens this rank holds (before any expert-parallel dispatch), so sums over every rank count
 * each token of the global batch once.
 *
 * <p>Fields ({@link #fields}): {@code experts.L.tokens_min}, {@code _max}, {@code _stddev}
 * (population standard deviation over the layer's experts) for sparse layer L, and
 * {@code aux_loss}, the load-balancing loss without its coefficient: in training the step's
 * {@code loss_aux / router_aux_loss_coef} (present when the loss has the aux term and the
 * coefficient is not 0); for a forward outside training transformers' {@code load_balancing_loss_func}
 * over every token recorded, {@code E * sum_e (C_e / M) (S_e / M)} with M = sparse layers x tokens.
 */
final class RouterMetrics implements ModelMetrics {
    private final MoeConfig config;
    /** The model layer of each sparse layer, in order. */
    private final int[] layers;
    /** Sparse-layer index of each model layer; -1 where dense. */
    private final int[] sparseIndex;
    private final double[][] tokensPerExpert;
    private final double[][] probSums;
    private final double[] routedTokens;
    /** The micro-batch of the latest recording and which sparse layers recorded it. */
    private Batch current;
    private final boolean[] recorded;

    RouterMetrics(MoeConfig config) {
        this.config = config;
        this.sparseIndex = new int[config.numLayers()];
        int sparse = 0;
        for (int i = 0; i < config.numLayers(); i++) {
            sparseIndex[i] = config.sparse(i) ? sparse++ : -1;
        }
        this.layers = new int[sparse];
        for (int i = 0; i < config.numLayers(); i++) {
            if (sparseIndex[i] >= 0) {
                layers[sparseIndex[i]] = i;
            }
        }
        int e = config.numExperts();
        this.tokensPerExpert = new double[sparse][e];
        this.probSums = new double[sparse][e];
        this.routedTokens = new double[sparse];
        this.recorded = new boolean[sparse];
    }

    /**
     * Adds sparse layer {@code layer}'s routing of the call's micro-batch, once per micro-batch (a
     * recompute of the same micro-batch is ignored).
     */
    void record(SegmentCall call, int layer, Router.Routing routing) {
        int s = sparseIndex[layer];
        if (s < 0) {
            throw new IllegalArgumentException("layer " + layer + " is not sparse");
        }
        if (call.batch() != current) {
            current = call.batch();
            Arrays.fill(recorded, false);
        }
        if (recorded[s]) {
            return;
        }
        recorded[s] = true;
        int k = routing.topK();
        int tokens = routing.tokens();
        boolean[] routed = routedMask(call.batch(), tokens);
        long[] chosen = routing.experts();
        float[] mask = new float[tokens];
        int count = 0;
        for (int t = 0; t < tokens; t++) {
            if (routed[t]) {
                mask[t] = 1f;
                count++;
                for (int j = 0; j < k; j++) {
                    tokensPerExpert[s][(int) chosen[t * k + j]]++;
                }
            }
        }
        routedTokens[s] += count;
        NDArray probs = routing.probs().stopGradient();
        NDArray maskArray = Ops.owned(call.manager().create(mask, new Shape(tokens, 1)), probs.getDataType());
        double[] sums = probs.mul(maskArray).sum(new int[] {0}).toType(DataType.FLOAT64, false).toDoubleArray();
        for (int e = 0; e < sums.length; e++) {
            probSums[s][e] += sums[e];
        }
    }

    /** Which of the micro-batch's {@code tokens} flattened positions are tokens (not padding). */
    private static boolean[] routedMask(Batch batch, int tokens) {
        boolean[] routed = new boolean[tokens];
        if (batch.has(MoeCollator.ROUTED_MASK)) {
            float[] m = batch.get(MoeCollator.ROUTED_MASK).toType(DataType.FLOAT32, false).toFloatArray();
            requireLength(m.length, tokens, MoeCollator.ROUTED_MASK);
            for (int t = 0; t < tokens; t++) {
                routed[t] = m[t] != 0;
            }
        } else if (batch.has(TokenBatch.DOC_IDS)) {
            long[] docs = batch.get(TokenBatch.DOC_IDS).toLongArray();
            requireLength(docs.length, tokens, TokenBatch.DOC_IDS);
            for (int t = 0; t < tokens; t++) {
                routed[t] = docs[t] >= 0;
            }
        } else {
            // Every row is one document without padding (TokenBatch leaves the doc ids out then).
            Arrays.fill(routed, true);
        }
        return routed;
    }

    private static void requireLength(int length, int tokens, String key) {
        if (length != tokens) {
            throw new IllegalStateException("the router saw " + tokens + " tokens but the batch's " + key + " has "
                    + length + " positions");
        }
    }

    @Override
    public void clear() {
        for (int s = 0; s < layers.length; s++) {
            Arrays.fill(tokensPerExpert[s], 0);
            Arrays.fill(probSums[s], 0);
        }
        Arrays.fill(routedTokens, 0);
        current = null;
        Arrays.fill(recorded, false);
    }

    /** Layout: tokens per expert [sparse layers][E], then probability sums [sparse layers][E], then routed tokens [sparse layers]. */
    @Override
    public double[] sums() {
        int e = config.numExperts();
        int n = layers.length;
        double[] out = new double[2 * n * e + n];
        for (int s = 0; s < n; s++) {
            System.arraycopy(tokensPerExpert[s], 0, out, s * e, e);
            System.arraycopy(probSums[s], 0, out, (n + s) * e, e);
            out[2 * n * e + s] = routedTokens[s];
        }
        return out;
    }

    @Override
    public Map<String, Double> fields(double[] globalSums, Map<String, Double> lossTerms) {
        int e = config.numExperts();
        int n = layers.length;
        if (globalSums.length != 2 * n * e + n) {
            throw new IllegalArgumentException("expected " + (2 * n * e + n) + " router sums, got " + globalSums.length);
        }
        Map<String, Double> fields = new LinkedHashMap<>();
        Double auxTerm = lossTerms.get(MoeHead.AUX);
        if (auxTerm != null) {
            if (config.routerAuxLossCoef() > 0) {
                fields.put(AUX_LOSS, auxTerm / config.routerAuxLossCoef());
            }
        } else if (lossTerms.isEmpty() && n > 0) {
            fields.put(AUX_LOSS, recordedAux(globalSums, n, e));
        }
        for (int s = 0; s < n; s++) {
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            double mean = 0;
            for (int j = 0; j < e; j++) {
                double c = globalSums[s * e + j];
                min = Math.min(min, c);
                max = Math.max(max, c);
                mean += c / e;
            }
            double var = 0;
            for (int j = 0; j < e; j++) {
                double d = globalSums[s * e + j] - mean;
                var += d * d / e;
            }
            String prefix = "experts." + layers[s] + ".tokens_";
            fields.put(prefix + "min", min);
            fields.put(prefix + "max", max);
            fields.put(prefix + "stddev", Math.sqrt(var));
        }
        return fields;
    }

    /** The unscaled load-balancing loss over everything recorded: E * sum_e (C_e / M) (S_e / M). */
    private static double recordedAux(double[] sums, int n, int e) {
        double m = 0;
        for (int s = 0; s < n; s++) {
            m += sums[2 * n * e + s];
        }
        if (m == 0) {
            return 0;
        }
        double aux = 0;
        for (int j = 0; j < e; j++) {
            double c = 0;
            double p = 0;
            for (int s = 0; s < n; s++) {
                c += sums[s * e + j];
                p += sums[(n + s) * e + j];
            }
            aux += (c / m) * (p / m);
        }
        return aux * e;
    }

    /** The field of the unscaled load-balancing loss. */
    static final String AUX_LOSS = "aux_loss";
}
