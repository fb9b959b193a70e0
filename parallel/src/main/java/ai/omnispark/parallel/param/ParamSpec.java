package ai.omnispark.parallel.param;

import ai.djl.ndarray.types.Shape;

/**
 * One named parameter: its shape, how it starts, whether weight decay applies to it, and whether
 * it trains at all (frozen parameters get no gradient and no optimizer state).
 */
public record ParamSpec(String name, Shape shape, Init init, boolean decay, boolean trainable) {
    public ParamSpec {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("parameter name must not be empty");
        }
        for (long d : shape.getShape()) {
            if (d <= 0) {
                throw new IllegalArgumentException("parameter " + name + " has a non-positive dimension: " + shape);
            }
        }
    }

    /** A trainable parameter; weight decay applies to matrices, not to vectors (norms, biases). */
    public static ParamSpec of(String name, Init init, long... dims) {
        return new ParamSpec(name, new Shape(dims), init, dims.length >= 2, true);
    }

    public long numel() {
        return shape.size();
    }
}
