package ai.omnispark.models.nn.attention;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.runtime.Autograd;
import java.util.Random;

/** Random operands of one attention call, its float64 reference, and a check of a kernel against it. */
final class AttentionCase {
    /** |kernel - reference| <= TOL (1 + |reference|) per element: fp32 rounding, far below any wrong term. */
    static final double TOL = 1e-5;

    final int b;
    final int hq;
    final int hkv;
    final int s;
    final int d;
    final boolean causal;
    final int[] doc;
    final float[] q;
    final float[] k;
    final float[] v;
    final float[] g;
    final AttentionReference reference;

    /** @param packed two rows: row 0 packs two documents, row 1 one document and a padded tail (-1) */
    AttentionCase(int hq, int hkv, int s, int d, boolean causal, boolean packed, long seed) {
        this(hq, hkv, s, d, causal, packed ? packedDocs(s) : null, seed);
    }

    private static int[] packedDocs(int s) {
        int[] doc = new int[2 * s];
        for (int i = 0; i < s; i++) {
            doc[i] = i < s / 3 ? 0 : 1;
            doc[s + i] = i < s - s / 4 ? 0 : -1;
        }
        return doc;
    }

    /** Two rows with the given document ids ([2 * s], -1 = padding), or none (null). */
    AttentionCase(int hq, int hkv, int s, int d, boolean causal, int[] docIds, long seed) {
        this.b = 2;
        this.hq = hq;
        this.hkv = hkv;
        this.s = s;
        this.d = d;
        this.causal = causal;
        Random random = new Random(seed);
        q = normal(random, b * hq * s * d);
        k = normal(random, b * hkv * s * d);
        v = normal(random, b * hkv * s * d);
        g = normal(random, b * hq * s * d);
        doc = docIds;
        reference = new AttentionReference(q, k, v, g, doc, causal, b, hq, hkv, s, d);
    }

    private static float[] normal(Random random, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) random.nextGaussian();
        }
        return a;
    }

    /**
     * Runs {@code attention} on this case under the calling thread's grad mode {@code recordGrad};
     * asserts the output, and with recording the gradients w.r.t. q, k and v, against the reference.
     */
    void check(Attention attention, NDManager parent, boolean recordGrad, String label) {
        boolean previous = Autograd.setGradMode(recordGrad);
        try (NDManager scope = parent.newSubManager()) {
            NDArray qa = leaf(scope, q, new Shape(b, hq, s, d), recordGrad);
            NDArray ka = leaf(scope, k, new Shape(b, hkv, s, d), recordGrad);
            NDArray va = leaf(scope, v, new Shape(b, hkv, s, d), recordGrad);
            NDArray docIds = null;
            if (doc != null) {
                long[] ids = new long[doc.length];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = doc[i];
                }
                docIds = Ops.owned(scope.create(ids, new Shape(b, s)), DataType.INT64);
            }
            NDArray out = attention.attend(new AttentionInputs(qa, ka, va, docIds, causal, null));
            assertClose(label + " output", reference.out, out.toFloatArray());
            if (!recordGrad) {
                assertTrue(!ai.djl.pytorch.jni.JniUtils.requiresGrad((ai.djl.pytorch.engine.PtNDArray) out), label + ": output records a graph with grad mode off");
                return;
            }
            NDArray loss = out.mul(Ops.owned(scope.create(g, new Shape(b, hq, s, d)), DataType.FLOAT32)).sum();
            Autograd.backward(loss, Ops.constant(loss, 1), false);
            assertClose(label + " dq", reference.dq, Autograd.gradientOrNull(qa).toFloatArray());
            assertClose(label + " dk", reference.dk, Autograd.gradientOrNull(ka).toFloatArray());
            assertClose(label + " dv", reference.dv, Autograd.gradientOrNull(va).toFloatArray());
        } finally {
            Autograd.setGradMode(previous);
        }
    }

    private static NDArray leaf(NDManager scope, float[] data, Shape shape, boolean grad) {
        NDArray a = Ops.owned(scope.create(data, shape), DataType.FLOAT32);
        return grad ? Autograd.leaf(a) : a;
    }

    static void assertClose(String what, double[] want, float[] got) {
        assertTrue(want.length == got.length, what + ": " + got.length + " elements, expected " + want.length);
        for (int i = 0; i < want.length; i++) {
            double error = Math.abs(got[i] - want[i]);
            if (!(error <= TOL * (1 + Math.abs(want[i])))) {
                throw new AssertionError(what + "[" + i + "]: got " + got[i] + ", float64 reference " + want[i]);
            }
        }
    }
}
