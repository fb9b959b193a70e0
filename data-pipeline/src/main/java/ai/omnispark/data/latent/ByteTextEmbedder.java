package ai.omnispark.data.latent;

import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * The built-in stand-in for umT5: a text to a (textLen, textDim) float32 embedding, one fixed
 * vector per UTF-8 byte (a seeded Gaussian table scaled by 1 / sqrt(textDim), so a row has about
 * unit norm) in the order of the bytes, then zero rows (padding, as Wan pads umT5's output with
 * zeros). Bytes beyond {@code textLen} are dropped. The empty text embeds to all zeros, which is
 * what text dropout in training and the unconditional branch of guidance use.
 */
public final class ByteTextEmbedder {
    /** The seed of the table the prepare step uses; embedding prompts at generation must use the same. */
    public static final long DEFAULT_SEED = 0x7E47_0016L;

    private final int textDim;
    private final int textLen;
    /** Row-major (256, textDim). */
    private final float[] table;

    /** The embedder of the prepare step: {@link #DEFAULT_SEED}. */
    public ByteTextEmbedder(int textDim, int textLen) {
        this(textDim, textLen, DEFAULT_SEED);
    }

    public ByteTextEmbedder(int textDim, int textLen, long seed) {
        if (textDim < 1) {
            throw new IllegalArgumentException("data.text_embed_dim must be >= 1, got " + textDim);
        }
        if (textLen < 1) {
            throw new IllegalArgumentException("data.text_embed_len must be >= 1, got " + textLen);
        }
        this.textDim = textDim;
        this.textLen = textLen;
        this.table = new float[256 * textDim];
        Random random = new Random(seed);
        double scale = 1.0 / Math.sqrt(textDim);
        for (int i = 0; i < table.length; i++) {
            table[i] = (float) (random.nextGaussian() * scale);
        }
    }

    /** (textLen, textDim). */
    public int[] shape() {
        return new int[] {textLen, textDim};
    }

    public int textDim() {
        return textDim;
    }

    public int textLen() {
        return textLen;
    }

    /** {@code text} as (textLen, textDim), row-major: its UTF-8 bytes' rows, then zeros. */
    public float[] embed(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        float[] out = new float[textLen * textDim];
        int n = Math.min(bytes.length, textLen);
        for (int i = 0; i < n; i++) {
            System.arraycopy(table, (bytes[i] & 0xFF) * textDim, out, i * textDim, textDim);
        }
        return out;
    }
}
