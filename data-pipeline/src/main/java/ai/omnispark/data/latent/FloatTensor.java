package ai.omnispark.data.latent;

import java.util.Arrays;
import java.util.List;

/**
 * A float32 tensor as a latent record gives it: row-major values and their shape.
 *
 * @param values row-major, {@code product(shape)} of them
 */
public record FloatTensor(float[] values, int[] shape) {
    public FloatTensor {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n *= d;
        }
        if (n != values.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " values, got "
                    + values.length);
        }
    }

    public int rank() {
        return shape.length;
    }

    /** How to walk one source's nested arrays (JSON nodes, Spark sequences). */
    public interface Nested {
        /** The items of {@code node} when it is an array, else null. */
        List<?> items(Object node);

        /** {@code node} as a number; throws {@link IllegalArgumentException} naming what it is otherwise. */
        double number(Object node);
    }

    /**
     * A rectangular nested array of numbers (e.g. [[1, 2], [3, 4]]) as a tensor; a ragged array, a
     * non-number leaf, or a non-finite value is refused with the path of the first offender.
     */
    public static FloatTensor fromNested(Object root, Nested nested) {
        // The shape is read down the first items; every other branch must match it.
        int[] shape = new int[0];
        Object node = root;
        List<?> items;
        while ((items = nested.items(node)) != null) {
            shape = Arrays.copyOf(shape, shape.length + 1);
            shape[shape.length - 1] = items.size();
            if (items.isEmpty()) {
                break;
            }
            node = items.get(0);
        }
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("an array of shape " + Arrays.toString(shape) + " is too large");
        }
        float[] values = new float[(int) n];
        int[] at = {0};
        fill(root, nested, shape, 0, values, at, "");
        return new FloatTensor(values, shape);
    }

    private static void fill(Object node, Nested nested, int[] shape, int depth, float[] out, int[] at, String path) {
        List<?> items = nested.items(node);
        if (depth == shape.length) {
            if (items != null) {
                throw new IllegalArgumentException("ragged array: " + (path.isEmpty() ? "the value" : path)
                        + " is an array where the first branch has a number");
            }
            double v = nested.number(node);
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException("value " + path + " is " + v);
            }
            out[at[0]++] = (float) v;
            return;
        }
        if (items == null) {
            throw new IllegalArgumentException("ragged array: " + (path.isEmpty() ? "the value" : path)
                    + " is not an array where the first branch has one of " + shape[depth]);
        }
        if (items.size() != shape[depth]) {
            throw new IllegalArgumentException("ragged array: " + (path.isEmpty() ? "the value" : path) + " has "
                    + items.size() + " items where the first branch has " + shape[depth]);
        }
        for (int i = 0; i < items.size(); i++) {
            fill(items.get(i), nested, shape, depth + 1, out, at, path + "[" + i + "]");
        }
    }
}
