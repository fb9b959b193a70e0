package ai.omnispark.data.latent;

import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * The built-in stand-in for umT5: a text to a (textLen, textDim) float32 embedding, one row per
 * UTF-8 byte in the order of the bytes, then zero rows (padding, as Wan pads umT5's output with
 * zeros). Bytes beyond {@code textLen} are dropped. The empty text embeds to all zeros, which is
 * what text dropout in training and the unconditional branch of guidance use.
 *
 * <p>Row i is (byte(b_i) + word(w_i) + position(i)) / sqrt(3): three fixed seeded Gaussian vectors
 * of about unit norm, for the byte, the word it is in (a maximal run of letters and digits, keyed
 * by the word's text; other bytes are words of their own) and its position. umT5's outputs are
 * contextual and the DiT's cross-attention has no positions, so rows of bytes alone would be a
 * bag of letters in which "orange" cannot be told from "large triangle": the tiny text-to-video
 * example then matched the prompt's colour in 20 % of its videos. The word and position terms give
 * each row what an encoder's output would carry: which word it belongs to and where.
 */
public final class ByteTextEmbedder {
    /** The seed of the table the prepare step uses; embedding prompts at generation must use the same. */
    public static final long DEFAULT_SEED = 0x7E47_0016L;

    private final int textDim;
    private final int textLen;
    private final long seed;
    /** Row-major (256, textDim). */
    private final float[] table;
    /** Row-major (textLen, textDim). */
    private final float[] positions;

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
        this.seed = seed;
        this.table = gaussianRows(new Random(seed), 256);
        this.positions = gaussianRows(new Random(seed + 1), textLen);
    }

    /** {@code rows} rows of seeded Gaussians scaled by 1 / sqrt(textDim): about unit norm each. */
    private float[] gaussianRows(Random random, int rows) {
        float[] out = new float[rows * textDim];
        double scale = 1.0 / Math.sqrt(textDim);
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (random.nextGaussian() * scale);
        }
        return out;
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
        float norm = (float) (1 / Math.sqrt(3));
        int start = 0;
        while (start < n) {
            int end = start + 1;
            if (isWordByte(bytes[start])) {
                while (end < bytes.length && isWordByte(bytes[end])) {
                    end++;
                }
            }
            // the whole word keys its vector, also when textLen cuts it
            float[] word = gaussianRows(new Random(seed ^ wordKey(bytes, start, end)), 1);
            for (int i = start; i < Math.min(end, n); i++) {
                int b = (bytes[i] & 0xFF) * textDim;
                for (int d = 0; d < textDim; d++) {
                    out[i * textDim + d] = (table[b + d] + word[d] + positions[i * textDim + d]) * norm;
                }
            }
            start = end;
        }
        return out;
    }

    /** ASCII letters and digits, and every byte of a multi-byte UTF-8 character. */
    private static boolean isWordByte(byte b) {
        return b < 0 || Character.isLetterOrDigit((char) b);
    }

    /** A 64-bit FNV-1a hash of bytes [start, end). */
    private static long wordKey(byte[] bytes, int start, int end) {
        long h = 0xcbf29ce484222325L;
        for (int i = start; i < end; i++) {
            h = (h ^ (bytes[i] & 0xFF)) * 0x100000001b3L;
        }
        return h;
    }
}
