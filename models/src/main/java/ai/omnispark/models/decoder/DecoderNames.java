package ai.omnispark.models.decoder;

/** HF parameter names and unit names every decoder-only family shares; they are also our parameter names. */
public final class DecoderNames {
    private DecoderNames() {}

    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    /** The unit of the embedding. */
    public static final String EMBED_UNIT = "embed";
    /** The unit of the final norm and the untied lm_head. */
    public static final String HEAD_UNIT = "head";

    /** The unit of block {@code layer}'s parameters, read by its attention and its MLP segment. */
    public static String unit(int layer) {
        return "layers." + layer;
    }

    /** {@code model.layers.i.<suffix>}. */
    public static String layer(int i, String suffix) {
        return "model.layers." + i + "." + suffix;
    }
}
