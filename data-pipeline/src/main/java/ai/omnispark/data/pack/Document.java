package ai.omnispark.data.pack;

/**
 * One tokenized sample before packing: its tokens and, per token, whether the model should learn
 * to predict it (false for prompts, system and user turns).
 */
public record Document(int[] tokens, boolean[] trainable) {
    public Document {
        if (tokens.length != trainable.length) {
            throw new IllegalArgumentException("document has " + tokens.length
                    + " tokens but " + trainable.length + " trainable flags");
        }
    }

    /** A document whose every token is learned (pre-training text). */
    public static Document ofText(int[] tokens) {
        boolean[] all = new boolean[tokens.length];
        java.util.Arrays.fill(all, true);
        return new Document(tokens, all);
    }

    public int length() {
        return tokens.length;
    }
}
