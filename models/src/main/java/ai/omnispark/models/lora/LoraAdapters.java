package ai.omnispark.models.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.List;

/**
 * LoRA on a linear, as PEFT defines it: y = x W^T + b + ((dropout(x) A^T) B^T) * alpha/rank, with
 * A [rank, in] Kaiming-uniform and B [out, rank] zero, so a fresh adapter leaves the model as it
 * was. The adapter's two matrices live in their own unit next to the frozen base unit.
 */
public final class LoraAdapters {
    /** PEFT's {@code kaiming_uniform_(lora_A.weight, a=math.sqrt(5))}. */
    private static final double KAIMING_A = Math.sqrt(5);

    private LoraAdapters() {}

    /** The unit holding the adapters of the linears of base unit {@code baseUnit}. */
    public static String unitOf(String baseUnit) {
        return baseUnit + ".lora";
    }

    /** The parameter name of A for the linear {@code module} (its name without ".weight"). */
    public static String loraA(String module) {
        return module + ".lora_A.weight";
    }

    /** The parameter name of B for the linear {@code module}. */
    public static String loraB(String module) {
        return module + ".lora_B.weight";
    }

    /**
     * The adapter of the linear {@code module} with {@code in} inputs and {@code out} outputs:
     * {@code <module>.lora_A.weight} [rank, in], Kaiming-uniform with bound 1/sqrt(in), and
     * {@code <module>.lora_B.weight} [out, rank], zeros; both trainable, decayed as matrices.
     */
    public static List<ParamSpec> specs(LoraConfig config, String module, long in, long out) {
        if (module == null || module.isEmpty()) {
            throw new IllegalArgumentException("a LoRA adapter needs the name of its linear");
        }
        if (in <= 0 || out <= 0) {
            throw new IllegalArgumentException("linear " + module + " has " + in + " inputs and " + out
                    + " outputs; a LoRA adapter needs both > 0");
        }
        return List.of(ParamSpec.of(loraA(module), Init.kaimingUniform(KAIMING_A, in), config.rank(), in),
                ParamSpec.of(loraB(module), Init.zeros(), out, config.rank()));
    }

    /**
     * {@code x W^T + b + ((dropout(x) A^T) B^T) * scale}. The base path sees x undropped, as in PEFT.
     *
     * @param bias null for a linear without bias
     * @param dropoutMaskOrNull x's shape, 0 or 1/(1-p) per element (see {@link #dropoutMask}); null: no dropout
     */
    public static NDArray linear(NDArray x, NDArray weight, NDArray bias, NDArray loraA, NDArray loraB, double scale,
            NDArray dropoutMaskOrNull) {
        checkShapes(weight, loraA, loraB);
        long in = weight.getShape().get(1);
        if (x.getShape().dimension() == 0 || x.getShape().get(x.getShape().dimension() - 1) != in) {
            throw new IllegalArgumentException("LoRA linear of " + in + " inputs got x of shape " + x.getShape());
        }
        if (dropoutMaskOrNull != null && !dropoutMaskOrNull.getShape().equals(x.getShape())) {
            throw new IllegalArgumentException("LoRA dropout mask has shape " + dropoutMaskOrNull.getShape()
                    + ", x has " + x.getShape() + "; they must be equal");
        }
        if (dropoutMaskOrNull == null) {
            // Without dropout base and adapter see the same x, so one matmul with W + scale B A does it:
            // the fold costs out*in*rank (not tokens*out*rank), and no skinny [tokens, rank] matmuls
            // or [tokens, out] scale-and-add passes run, forward or backward. Measured on the tiny
            // model this made a LoRA step cheaper than a full fine-tune's instead of 1.1-1.5x dearer.
            return Ops.linear(x, merged(weight, loraA, loraB, scale), bias);
        }
        NDArray base = Ops.linear(x, weight, bias);
        // The scale goes on B (rank columns), not on the [tokens, out] update; Ops.scale multiplies
        // by a libtorch-owned constant, which mul saves for backward.
        NDArray update = Ops.linear(Ops.linear(x.mul(dropoutMaskOrNull), loraA, null), Ops.scale(loraB, scale), null);
        return base.add(update);
    }

    /** {@code W + scale * B A}: the base weight with the adapter folded in (an export, or scoring merged). */
    public static NDArray merged(NDArray weight, NDArray loraA, NDArray loraB, double scale) {
        checkShapes(weight, loraA, loraB);
        return weight.add(Ops.scale(loraB, scale).matMul(loraA));
    }

    /**
     * A LoRA dropout mask of {@code shape} (the shape of the linear's input x): per element 0 with
     * probability p, else 1/(1-p), drawn from the rank's generator in row-major order, in libtorch-owned
     * memory (the mask's mul saves it for backward). As with the attention-dropout masks, it rides on
     * the batch rather than being drawn inside the segment, so a recomputed segment applies the same
     * mask and a resumed run that restores the generator draws the same ones. Returns null, drawing
     * nothing, when p = 0.
     */
    public static NDArray dropoutMask(NDManager scope, Shape shape, double p, DataType dtype, RankRandom random) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("LoRA dropout must be in [0, 1), got " + p);
        }
        if (p == 0) {
            return null;
        }
        long size = shape.size();
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a LoRA dropout mask of " + shape + " (" + size + " elements) does not "
                    + "fit one array; use a smaller micro-batch or sequence length");
        }
        float keep = (float) (1.0 / (1.0 - p));
        float[] mask = new float[(int) size];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = random.nextDouble() < p ? 0f : keep;
        }
        return Ops.owned(scope.create(mask, shape), dtype);
    }

    /** The batch key of the LoRA dropout mask of the linear {@code module}. */
    public static String dropoutMaskKey(String module) {
        return "lora_dropout." + module;
    }

    private static void checkShapes(NDArray weight, NDArray loraA, NDArray loraB) {
        Shape w = weight.getShape();
        Shape a = loraA.getShape();
        Shape b = loraB.getShape();
        if (w.dimension() != 2 || a.dimension() != 2 || b.dimension() != 2) {
            throw new IllegalArgumentException("LoRA needs 2-D W [out, in], A [rank, in], B [out, rank]; got W " + w
                    + ", A " + a + ", B " + b);
        }
        if (a.get(1) != w.get(1) || b.get(0) != w.get(0) || b.get(1) != a.get(0)) {
            throw new IllegalArgumentException("LoRA shapes disagree: W " + w + " is [out, in], so A must be [rank, "
                    + w.get(1) + "] and B [" + w.get(0) + ", rank] with one rank; got A " + a + ", B " + b);
        }
    }
}
