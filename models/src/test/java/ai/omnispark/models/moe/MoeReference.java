package ai.omnispark.models.moe;

import ai.omnispark.models.api.Sample;
import ai.omnispark.models.decoder.DecoderNames;
import java.util.List;
import java.util.Map;

/**
 * The Qwen3-MoE / Qwen2-MoE forward written from the transformers modelling code in plain float64
 * Java loops, one token at a time: packed-row attention (causal inside a document), per-token
 * top-k routing with a loop over the chosen experts, the shared expert, the LM head, the summed
 * cross-entropy and load_balancing_loss_func over the sparse layers' non-padding tokens.
 * Independent of the family's tensor code (no gathers, no grouping).
 */
final class MoeReference {
    /** logits [rows * seqLen][vocab]; ceSum over labelled tokens; aux unscaled (E * sum f_e P_e). */
    record Result(double[][] logits, double ceSum, double aux) {}

    private final MoeConfig c;
    private final Map<String, double[]> w;
    /** Per sparse layer of the last forward: how many non-padding tokens chose each expert. */
    final Map<Integer, double[]> tokensPerExpert = new java.util.TreeMap<>();

    MoeReference(MoeConfig config, Map<String, double[]> weights) {
        this.c = config;
        this.w = weights;
    }

    private double[] w(String name) {
        double[] v = w.get(name);
        if (v == null) {
            throw new IllegalArgumentException("no weight " + name);
        }
        return v;
    }

    /** y = W x (+ b), W [out, in] row-major. */
    private static double[] linear(double[] x, double[] weight, double[] bias, int out) {
        int in = x.length;
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = bias == null ? 0 : bias[o];
            for (int i = 0; i < in; i++) {
                s += weight[o * in + i] * x[i];
            }
            y[o] = s;
        }
        return y;
    }

    private double[] rmsNorm(double[] x, int from, int len, double[] weight) {
        double ms = 0;
        for (int i = 0; i < len; i++) {
            ms += x[from + i] * x[from + i];
        }
        double r = Math.sqrt(ms / len + c.rmsNormEps());
        double[] y = new double[len];
        for (int i = 0; i < len; i++) {
            y[i] = weight[i] * (x[from + i] / r);
        }
        return y;
    }

    private static double silu(double v) {
        return v / (1 + Math.exp(-v));
    }

    private static double[] swiglu(double[] x, double[] gate, double[] up, double[] down, int inter) {
        double[] g = linear(x, gate, null, inter);
        double[] u = linear(x, up, null, inter);
        double[] a = new double[inter];
        for (int i = 0; i < inter; i++) {
            a[i] = silu(g[i]) * u[i];
        }
        return linear(a, down, null, x.length);
    }

    /** HF rotate-half rotary embedding of one head vector at position p. */
    private double[] rope(double[] v, int p) {
        int hd = v.length;
        int half = hd / 2;
        double[] out = new double[hd];
        for (int i = 0; i < half; i++) {
            double angle = p / Math.pow(c.ropeTheta(), (2.0 * i) / hd);
            double cos = Math.cos(angle);
            double sin = Math.sin(angle);
            out[i] = v[i] * cos - v[i + half] * sin;
            out[i + half] = v[i + half] * cos + v[i] * sin;
        }
        return out;
    }

    Result forward(List<Sample> rows) {
        tokensPerExpert.clear();
        int seq = rows.get(0).length();
        int n = rows.size() * seq;
        int hsz = c.hiddenSize();
        int[] ids = new int[n];
        int[] labels = new int[n];
        int[] pos = new int[n];
        int[] doc = new int[n];
        for (int r = 0; r < rows.size(); r++) {
            System.arraycopy(rows.get(r).ints(Sample.INPUT_IDS), 0, ids, r * seq, seq);
            System.arraycopy(rows.get(r).ints(Sample.LABELS), 0, labels, r * seq, seq);
            System.arraycopy(rows.get(r).ints(Sample.POSITION_IDS), 0, pos, r * seq, seq);
            System.arraycopy(rows.get(r).ints(Sample.DOC_IDS), 0, doc, r * seq, seq);
        }
        double[][] x = new double[n][];
        for (int t = 0; t < n; t++) {
            x[t] = java.util.Arrays.copyOfRange(w(DecoderNames.EMBED), ids[t] * hsz, (ids[t] + 1) * hsz);
        }
        int e = c.numExperts();
        double[] probSum = new double[e];
        double[] slotCount = new double[e];
        long routedTokens = 0;
        for (int t = 0; t < n; t++) {
            routedTokens += doc[t] >= 0 ? 1 : 0;
        }
        for (int layer = 0; layer < c.numLayers(); layer++) {
            x = attention(layer, x, seq, pos, doc);
            x = mlp(layer, x, doc, probSum, slotCount);
        }
        double[][] logits = new double[n][];
        double ce = 0;
        double[] head = w(c.tieWordEmbeddings() ? DecoderNames.EMBED : DecoderNames.LM_HEAD);
        for (int t = 0; t < n; t++) {
            double[] h = rmsNorm(x[t], 0, hsz, w(DecoderNames.FINAL_NORM));
            logits[t] = linear(h, head, null, c.vocabSize());
            if (labels[t] != Sample.IGNORE) {
                double max = Double.NEGATIVE_INFINITY;
                for (double v : logits[t]) {
                    max = Math.max(max, v);
                }
                double z = 0;
                for (double v : logits[t]) {
                    z += Math.exp(v - max);
                }
                ce += max + Math.log(z) - logits[t][labels[t]];
            }
        }
        double m = (double) c.sparseLayers() * routedTokens;
        double aux = 0;
        for (int j = 0; j < e; j++) {
            aux += (slotCount[j] / m) * (probSum[j] / m);
        }
        return new Result(logits, ce, aux * e);
    }

    private double[][] attention(int layer, double[][] x, int seq, int[] pos, int[] doc) {
        int n = x.length;
        int nh = c.numHeads();
        int nkv = c.numKvHeads();
        int hd = c.headDim();
        int hsz = c.hiddenSize();
        String a = "self_attn.";
        boolean bias = c.qkvBias();
        double[][][] q = new double[n][nh][];
        double[][][] k = new double[n][nkv][];
        double[][][] v = new double[n][nkv][];
        for (int t = 0; t < n; t++) {
            double[] h = rmsNorm(x[t], 0, hsz, w(DecoderNames.layer(layer, "input_layernorm.weight")));
            double[] qa = linear(h, w(DecoderNames.layer(layer, a + "q_proj.weight")),
                    bias ? w(DecoderNames.layer(layer, a + "q_proj.bias")) : null, nh * hd);
            double[] ka = linear(h, w(DecoderNames.layer(layer, a + "k_proj.weight")),
                    bias ? w(DecoderNames.layer(layer, a + "k_proj.bias")) : null, nkv * hd);
            double[] va = linear(h, w(DecoderNames.layer(layer, a + "v_proj.weight")),
                    bias ? w(DecoderNames.layer(layer, a + "v_proj.bias")) : null, nkv * hd);
            for (int head = 0; head < nh; head++) {
                double[] qh = java.util.Arrays.copyOfRange(qa, head * hd, (head + 1) * hd);
                if (c.qkNorm()) {
                    qh = rmsNorm(qh, 0, hd, w(DecoderNames.layer(layer, a + "q_norm.weight")));
                }
                q[t][head] = rope(qh, pos[t]);
            }
            for (int head = 0; head < nkv; head++) {
                double[] kh = java.util.Arrays.copyOfRange(ka, head * hd, (head + 1) * hd);
                if (c.qkNorm()) {
                    kh = rmsNorm(kh, 0, hd, w(DecoderNames.layer(layer, a + "k_norm.weight")));
                }
                k[t][head] = rope(kh, pos[t]);
                v[t][head] = java.util.Arrays.copyOfRange(va, head * hd, (head + 1) * hd);
            }
        }
        double[][] out = new double[n][];
        double scale = 1 / Math.sqrt(hd);
        for (int t = 0; t < n; t++) {
            int rowStart = (t / seq) * seq;
            double[] attn = new double[nh * hd];
            for (int head = 0; head < nh; head++) {
                int kvHead = head / (nh / nkv);
                double max = Double.NEGATIVE_INFINITY;
                double[] s = new double[t - rowStart + 1];
                for (int j = rowStart; j <= t; j++) {
                    double dot = Double.NEGATIVE_INFINITY;
                    if (doc[j] == doc[t]) {
                        dot = 0;
                        for (int d = 0; d < hd; d++) {
                            dot += q[t][head][d] * k[j][kvHead][d];
                        }
                        dot *= scale;
                    }
                    s[j - rowStart] = dot;
                    max = Math.max(max, dot);
                }
                double z = 0;
                for (int j = 0; j < s.length; j++) {
                    s[j] = s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - max);
                    z += s[j];
                }
                for (int j = rowStart; j <= t; j++) {
                    for (int d = 0; d < hd; d++) {
                        attn[head * hd + d] += s[j - rowStart] / z * v[j][kvHead][d];
                    }
                }
            }
            double[] o = linear(attn, w(DecoderNames.layer(layer, a + "o_proj.weight")),
                    c.outputBias() ? w(DecoderNames.layer(layer, a + "o_proj.bias")) : null, hsz);
            out[t] = new double[hsz];
            for (int i = 0; i < hsz; i++) {
                out[t][i] = x[t][i] + o[i];
            }
        }
        return out;
    }

    private double[][] mlp(int layer, double[][] x, int[] doc, double[] probSum, double[] slotCount) {
        int n = x.length;
        int hsz = c.hiddenSize();
        int e = c.numExperts();
        int k = c.numExpertsPerTok();
        double[][] out = new double[n][];
        for (int t = 0; t < n; t++) {
            double[] h = rmsNorm(x[t], 0, hsz, w(DecoderNames.layer(layer, "post_attention_layernorm.weight")));
            double[] y;
            if (!c.sparse(layer)) {
                y = swiglu(h, w(DecoderNames.layer(layer, "mlp.gate_proj.weight")), w(DecoderNames.layer(layer, "mlp.up_proj.weight")),
                        w(DecoderNames.layer(layer, "mlp.down_proj.weight")), c.intermediateSize());
            } else {
                double[] logits = linear(h, w(DecoderNames.layer(layer, "mlp.gate.weight")), null, e);
                double max = Double.NEGATIVE_INFINITY;
                for (double l : logits) {
                    max = Math.max(max, l);
                }
                double z = 0;
                double[] p = new double[e];
                for (int j = 0; j < e; j++) {
                    p[j] = Math.exp(logits[j] - max);
                    z += p[j];
                }
                for (int j = 0; j < e; j++) {
                    p[j] /= z;
                }
                // top-k by repeated arg-max
                int[] chosen = new int[k];
                boolean[] taken = new boolean[e];
                double chosenSum = 0;
                for (int s = 0; s < k; s++) {
                    int best = -1;
                    for (int j = 0; j < e; j++) {
                        if (!taken[j] && (best < 0 || p[j] > p[best])) {
                            best = j;
                        }
                    }
                    taken[best] = true;
                    chosen[s] = best;
                    chosenSum += p[best];
                }
                y = new double[hsz];
                for (int s = 0; s < k; s++) {
                    int j = chosen[s];
                    double weight = c.normTopkProb() ? p[j] / chosenSum : p[j];
                    double[] ye = swiglu(h, w(MoeNames.expert(layer, j, "gate_proj")), w(MoeNames.expert(layer, j, "up_proj")),
                            w(MoeNames.expert(layer, j, "down_proj")), c.moeIntermediateSize());
                    for (int i = 0; i < hsz; i++) {
                        y[i] += weight * ye[i];
                    }
                }
                if (c.sharedExpert()) {
                    double[] sh = swiglu(h, w(DecoderNames.layer(layer, "mlp.shared_expert.gate_proj.weight")),
                            w(DecoderNames.layer(layer, "mlp.shared_expert.up_proj.weight")),
                            w(DecoderNames.layer(layer, "mlp.shared_expert.down_proj.weight")), c.sharedExpertIntermediateSize());
                    double g = linear(h, w(DecoderNames.layer(layer, "mlp.shared_expert_gate.weight")), null, 1)[0];
                    double sig = 1 / (1 + Math.exp(-g));
                    for (int i = 0; i < hsz; i++) {
                        y[i] += sig * sh[i];
                    }
                }
                if (doc[t] >= 0) {
                    for (int j = 0; j < e; j++) {
                        probSum[j] += p[j];
                    }
                    for (int j : chosen) {
                        slotCount[j]++;
                        tokensPerExpert.computeIfAbsent(layer, l -> new double[e])[j]++;
                    }
                }
            }
            out[t] = new double[hsz];
            for (int i = 0; i < hsz; i++) {
                out[t][i] = x[t][i] + y[i];
            }
        }
        return out;
    }
}
