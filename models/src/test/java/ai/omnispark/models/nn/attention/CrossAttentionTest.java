package ai.omnispark.models.nn.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Cross-attention (keys and values of their own length, a DiT's video queries to its text tokens)
 * through every kernel against a float64 loop reference: 37 queries (more than a chunked block of
 * 16) to 5 and to 40 keys, grouped-query heads, within 1e-12; causal attention, doc ids or a
 * dropout mask with different lengths are refused.
 */
class CrossAttentionTest {
    private static RankContext rank;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    @ParameterizedTest
    @EnumSource(value = AttentionImpl.class, names = {"SDPA", "CHUNKED", "EAGER", "AUTO"})
    void keysOfTheirOwnLengthMatchTheLoopReference(AttentionImpl impl) {
        for (int keys : new int[] {5, 40}) {
            int b = 2;
            int hq = 4;
            int hkv = 2;
            int s = 37;
            int d = 8;
            SplittableRandom random = new SplittableRandom(keys);
            double[] q = uniform(random, b * hq * s * d);
            double[] k = uniform(random, b * hkv * keys * d);
            double[] v = uniform(random, b * hkv * keys * d);
            try (NDManager scope = rank.manager().newSubManager(); Attention attention = new Attention(impl, 16)) {
                NDArray out = attention.attend(new AttentionInputs(scope.create(q, new Shape(b, hq, s, d)),
                        scope.create(k, new Shape(b, hkv, keys, d)), scope.create(v, new Shape(b, hkv, keys, d)), null,
                        false, null));
                assertEquals(new Shape(b, hq, s, d), out.getShape());
                double[] got = out.toDoubleArray();
                for (int bi = 0; bi < b; bi++) {
                    for (int h = 0; h < hq; h++) {
                        int kh = h / (hq / hkv);
                        for (int i = 0; i < s; i++) {
                            double[] p = new double[keys];
                            double max = Double.NEGATIVE_INFINITY;
                            for (int j = 0; j < keys; j++) {
                                double dot = 0;
                                for (int c = 0; c < d; c++) {
                                    dot += q[((bi * hq + h) * s + i) * d + c] * k[((bi * hkv + kh) * keys + j) * d + c];
                                }
                                p[j] = dot / Math.sqrt(d);
                                max = Math.max(max, p[j]);
                            }
                            double sum = 0;
                            for (int j = 0; j < keys; j++) {
                                p[j] = Math.exp(p[j] - max);
                                sum += p[j];
                            }
                            for (int c = 0; c < d; c++) {
                                double want = 0;
                                for (int j = 0; j < keys; j++) {
                                    want += p[j] / sum * v[((bi * hkv + kh) * keys + j) * d + c];
                                }
                                assertEquals(want, got[((bi * hq + h) * s + i) * d + c], 1e-12,
                                        impl + " keys " + keys + " [" + bi + "," + h + "," + i + "," + c + "]");
                            }
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = AttentionImpl.class, names = {"EAGER"})
    void causalOrDocumentMaskedCrossAttentionIsRefused(AttentionImpl impl) {
        try (NDManager scope = rank.manager().newSubManager()) {
            NDArray q = scope.zeros(new Shape(1, 2, 6, 4));
            NDArray k = scope.zeros(new Shape(1, 2, 3, 4));
            String msg = assertThrows(IllegalArgumentException.class,
                    () -> new AttentionInputs(q, k, k, null, true, null)).getMessage();
            assertTrue(msg.contains("differ in length"), msg);
            NDArray docs = scope.zeros(new Shape(1, 6), ai.djl.ndarray.types.DataType.INT64);
            assertThrows(IllegalArgumentException.class, () -> new AttentionInputs(q, k, k, docs, false, null));
        }
    }

    private static double[] uniform(SplittableRandom random, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = 2 * random.nextDouble() - 1;
        }
        return x;
    }
}
