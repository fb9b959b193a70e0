package ai.omnispark.parallel.engine;

import ai.djl.ndarray.NDArray;
import java.util.HashMap;
import java.util.Map;

/**
 * The side inputs of one micro-batch that every segment may read (token ids, labels, masks,
 * rotary tables). They carry no gradient.
 */
public final class Batch {
    private final Map<String, NDArray> arrays = new HashMap<>();

    public Batch put(String key, NDArray array) {
        arrays.put(key, array);
        return this;
    }

    public NDArray get(String key) {
        NDArray array = arrays.get(key);
        if (array == null) {
            throw new IllegalStateException("batch has no input '" + key + "'; it has " + arrays.keySet());
        }
        return array;
    }

    public boolean has(String key) {
        return arrays.containsKey(key);
    }

    /** The keys of the inputs, in no particular order. */
    public java.util.Set<String> keys() {
        return java.util.Set.copyOf(arrays.keySet());
    }
}
