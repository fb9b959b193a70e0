package ai.omnispark.data.pipeline;

import ai.omnispark.data.pack.Document;
import java.util.Arrays;

/** Grows a document's tokens and trainable flags together. */
final class TokenBuffer {
    private int[] tokens = new int[64];
    private boolean[] trainable = new boolean[64];
    private int size;

    void add(int[] ids, boolean learn) {
        ensure(size + ids.length);
        System.arraycopy(ids, 0, tokens, size, ids.length);
        Arrays.fill(trainable, size, size + ids.length, learn);
        size += ids.length;
    }

    void add(int id, boolean learn) {
        add(new int[] {id}, learn);
    }

    int size() {
        return size;
    }

    Document toDocument() {
        return new Document(Arrays.copyOf(tokens, size), Arrays.copyOf(trainable, size));
    }

    private void ensure(int capacity) {
        if (capacity > tokens.length) {
            int n = Math.max(capacity, tokens.length * 2);
            tokens = Arrays.copyOf(tokens, n);
            trainable = Arrays.copyOf(trainable, n);
        }
    }
}
