package ai.omnispark.data.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A HuggingFace {@code tokenizer.json} through DJL's Rust tokenizers binding (bundled natives, no
 * download). Special tokens are not added: packing appends the end-of-document id itself.
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final int vocabSize;
    private final int eosId;
    private final int padId;

    private HfTokenizer(HuggingFaceTokenizer tokenizer, int vocabSize, int eosId, int padId) {
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.eosId = eosId;
        this.padId = padId;
    }

    /**
     * @param path a {@code tokenizer.json} file or a folder holding one
     * @param eosToken the token that ends each document (e.g. {@code <|endoftext|>}); must be in the vocabulary
     * @param padToken the token that fills row tails; null to reuse the end-of-document token
     */
    public static HfTokenizer load(Path path, String eosToken, String padToken) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(file)) {
            throw new IOException("no tokenizer.json at " + file);
        }
        HuggingFaceTokenizer t = HuggingFaceTokenizer.builder()
                .optTokenizerPath(file)
                .optAddSpecialTokens(false)
                .optTruncation(false)
                .optPadding(false)
                .build();
        try {
            int eos = idOf(t, eosToken, file);
            int pad = padToken == null ? eos : idOf(t, padToken, file);
            int vocab = Math.max(vocabularySize(file), Math.max(eos, pad) + 1);
            return new HfTokenizer(t, vocab, eos, pad);
        } catch (IOException | RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private static int idOf(HuggingFaceTokenizer t, String token, Path file) throws IOException {
        Encoding e = t.encode(token, false, false);
        long[] ids = e.getIds();
        if (ids.length != 1) {
            throw new IOException("token '" + token + "' is not a single token of " + file + " (it encodes to "
                    + ids.length + " ids)");
        }
        return (int) ids[0];
    }

    /** One more than the largest id in the model's vocabulary and the added tokens. */
    private static int vocabularySize(Path file) throws IOException {
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        int max = -1;
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (JsonNode id : (Iterable<JsonNode>) vocab::elements) {
                max = Math.max(max, id.asInt());
            }
        } else if (vocab.isArray()) {
            max = vocab.size() - 1; // Unigram: a list of [piece, score], the id is the index
        }
        for (JsonNode added : root.path("added_tokens")) {
            max = Math.max(max, added.path("id").asInt());
        }
        if (max < 0) {
            throw new IOException(file + " has no vocabulary under model.vocab or added_tokens");
        }
        return max + 1;
    }

    @Override
    public int[] encode(String text) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, true);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public int padId() {
        return padId;
    }

    /** Read-only view of the binding's settings, for the manifest fingerprint. */
    public Map<String, String> describe() {
        return Map.of("eos_id", String.valueOf(eosId), "pad_id", String.valueOf(padId));
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
