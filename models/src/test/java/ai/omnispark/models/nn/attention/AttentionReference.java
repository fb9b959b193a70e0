package ai.omnispark.models.nn.attention;

/**
 * Attention and its gradients in float64 with plain loops, written from the definition:
 * o_i = sum_j p_ij v_j with p_i = softmax_j(scale q_i . k_j) over the keys j that query i may see
 * (same document when doc ids are given, j <= i when causal); query head h reads kv head
 * h / (Hq / Hkv). Arrays are row-major [B, H, S, D].
 */
final class AttentionReference {
    final double[] out;
    final double[] dq;
    final double[] dk;
    final double[] dv;

    /** @param g the upstream gradient dLoss/dOut, [B, Hq, S, D] */
    AttentionReference(float[] q, float[] k, float[] v, float[] g, int[] doc, boolean causal,
            int b, int hq, int hkv, int s, int d) {
        out = new double[q.length];
        dq = new double[q.length];
        dk = new double[k.length];
        dv = new double[v.length];
        double scale = 1.0 / Math.sqrt(d);
        int group = hq / hkv;
        double[] p = new double[s];
        double[] dp = new double[s];
        for (int bi = 0; bi < b; bi++) {
            for (int h = 0; h < hq; h++) {
                int kvh = h / group;
                int qBase = (bi * hq + h) * s * d;
                int kBase = (bi * hkv + kvh) * s * d;
                for (int i = 0; i < s; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < s; j++) {
                        if (!sees(doc, causal, bi, s, i, j)) {
                            continue;
                        }
                        double dot = 0;
                        for (int x = 0; x < d; x++) {
                            dot += (double) q[qBase + i * d + x] * k[kBase + j * d + x];
                        }
                        p[j] = dot * scale;
                        max = Math.max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < s; j++) {
                        p[j] = sees(doc, causal, bi, s, i, j) ? Math.exp(p[j] - max) : 0;
                        sum += p[j];
                    }
                    for (int j = 0; j < s; j++) {
                        p[j] /= sum;
                    }
                    double weighted = 0;
                    for (int j = 0; j < s; j++) {
                        double gv = 0;
                        for (int x = 0; x < d; x++) {
                            out[qBase + i * d + x] += p[j] * v[kBase + j * d + x];
                            dv[kBase + j * d + x] += p[j] * g[qBase + i * d + x];
                            gv += (double) g[qBase + i * d + x] * v[kBase + j * d + x];
                        }
                        dp[j] = gv;
                        weighted += p[j] * gv;
                    }
                    for (int j = 0; j < s; j++) {
                        double ds = p[j] * (dp[j] - weighted) * scale;
                        if (ds == 0) {
                            continue;
                        }
                        for (int x = 0; x < d; x++) {
                            dq[qBase + i * d + x] += ds * k[kBase + j * d + x];
                            dk[kBase + j * d + x] += ds * q[qBase + i * d + x];
                        }
                    }
                }
            }
        }
    }

    private static boolean sees(int[] doc, boolean causal, int row, int s, int i, int j) {
        if (causal && j > i) {
            return false;
        }
        return doc == null || doc[row * s + i] == doc[row * s + j];
    }
}
