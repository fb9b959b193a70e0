package ai.omnispark.data.tokenizer;

/** Text to token ids and back. Implementations are thread-safe and serializable by config. */
public interface Tokenizer {
    /** Token ids of {@code text}, without special tokens. */
    int[] encode(String text);

    /** Text of {@code ids}; special tokens are dropped. */
    String decode(int[] ids);

    /** Number of distinct ids this tokenizer can produce (special tokens included). */
    int vocabSize();

    /** Id appended after each document. */
    int eosId();

    /** Id that fills the unused tail of a packed row. */
    int padId();

    /**
     * The files a Hugging Face model folder carries for this tokenizer, by name:
     * {@code tokenizer.json} and {@code tokenizer_config.json} (see {@link HfTokenizerFiles}).
     */
    java.util.Map<String, byte[]> hfFiles();
}
