package ai.omnispark.models.llm;

/** HuggingFace parameter names of the Llama family, which are also our parameter names. */
final class HfNames {
    private HfNames() {}

    public static final String EMBED = "model.embed_tokens.weight";
    static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    static String layer(int i, String suffix) {
        return "model.layers." + i + "." + suffix;
    }
}
