package ai.omnispark.models.wan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;

/** The tensor functions of the Wan DiT that the shared {@link Ops} does not have. */
final class WanOps {
    private WanOps() {}

    /** LayerNorm over the last axis without weight and bias (diffusers' norm1, norm3, norm_out). */
    static NDArray layerNorm(NDArray x, double eps) {
        long width = x.getShape().get(x.getShape().dimension() - 1);
        NDArray ones = x.getManager().ones(new Shape(width), x.getDataType());
        NDArray zeros = x.getManager().zeros(new Shape(width), x.getDataType());
        return Ops.layerNorm(x, ones, zeros, eps);
    }

    /**
     * Rotary embedding on interleaved pairs (x[2j], x[2j+1]), as diffusers' Wan apply_rotary_emb:
     * {@code x cos + swap(x) sin} with swap(x) = (-x[2j+1], x[2j]) per pair.
     */
    static NDArray ropeInterleaved(NDArray x, NDArray cos, NDArray sin) {
        Shape shape = x.getShape();
        int last = shape.dimension() - 1;
        Shape pairs = shape.slice(0, last).add(shape.get(last) / 2, 2);
        NDArray p = x.reshape(pairs);
        NDArray even = p.get(new NDIndex("..., 0"));
        NDArray odd = p.get(new NDIndex("..., 1"));
        NDArray swapped = NDArrays.stack(new NDList(odd.neg(), even), -1).reshape(shape);
        return x.mul(cos).add(swapped.mul(sin));
    }

    /**
     * diffusers' Timesteps(freq_dim, flip_sin_to_cos=True, downscale_freq_shift=0) of t [B]:
     * [cos(t w_k), sin(t w_k)] with w_k = 10000^(-k / (freq_dim / 2)), [B, freq_dim].
     */
    static NDArray timestepEmbedding(NDArray t, int freqDim) {
        int half = freqDim / 2;
        double[] omega = new double[half];
        for (int k = 0; k < half; k++) {
            omega[k] = Math.exp(-Math.log(10000) * k / half);
        }
        NDArray w = Ops.owned(t.getManager().create(omega), t.getDataType());
        NDArray angles = t.expandDims(1).mul(w.expandDims(0));
        return NDArrays.concat(new NDList(angles.cos(), angles.sin()), 1);
    }

    /**
     * Conv3d's view of hidden_states [B, C, F, H, W]: one row per patch, tokens in (f, h, w) order (w
     * fastest), each row the patch's values in (c, pt, ph, pw) order, the order of the Conv3d weight:
     * [B, F' H' W', C pt ph pw].
     */
    static NDArray patchify(NDArray hs, int[] p) {
        Shape s = hs.getShape();
        long b = s.get(0);
        long c = s.get(1);
        long f = s.get(2) / p[0];
        long h = s.get(3) / p[1];
        long w = s.get(4) / p[2];
        return hs.reshape(b, c, f, p[0], h, p[1], w, p[2]).transpose(0, 2, 4, 6, 1, 3, 5, 7)
                .reshape(b, f * h * w, c * p[0] * p[1] * p[2]);
    }

    /**
     * A [B, C, F, H, W] tensor as the head's output tokens before unpatchify: [B, F' H' W', pt ph pw C],
     * each row's values in (pt, ph, pw, c) order (the inverse of the head's unpatchify).
     */
    static NDArray outputTokens(NDArray x, int[] p) {
        Shape s = x.getShape();
        long b = s.get(0);
        long c = s.get(1);
        long f = s.get(2) / p[0];
        long h = s.get(3) / p[1];
        long w = s.get(4) / p[2];
        return x.reshape(b, c, f, p[0], h, p[1], w, p[2]).transpose(0, 2, 4, 6, 3, 5, 7, 1)
                .reshape(b, f * h * w, (long) p[0] * p[1] * p[2] * c);
    }
}
