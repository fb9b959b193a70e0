package ai.omnispark.data.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} run by DJL's native tokenizers. Special tokens are never
 * added by {@link #encode}: the pipeline places EOS and chat markers itself. EOS and PAD are the
 * first of the usual names that the file defines as added tokens. It owns a native handle, so
 * close it.
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {
    private static final List<String> EOS_NAMES = List.of("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "<|im_end|>");
    private static final List<String> PAD_NAMES = List.of("<|endoftext|>", "<pad>", "[PAD]", "<|finetune_right_pad_id|>");

    private final HuggingFaceTokenizer tokenizer;
    private final int vocabSize;
    private final int eosId;
    private final int padId;
    /** The file as read, exported unchanged. */
    private final byte[] json;
    /** The {@code tokenizer_config.json} found beside it; null when there was none. */
    private final byte[] config;
    /** Added tokens by id. */
    private final Map<Integer, String> added;

    private HfTokenizer(HuggingFaceTokenizer tokenizer, int vocabSize, int eosId, int padId, byte[] json,
            byte[] config, Map<Integer, String> added) {
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.eosId = eosId;
        this.padId = padId;
        this.json = json;
        this.config = config;
        this.added = added;
    }

    /** Loads the bytes of a {@code tokenizer.json}; {@code name} only names it in messages. */
    public static HfTokenizer load(byte[] json, String name) throws IOException {
        return load(json, null, name);
    }

    /**
     * Loads the bytes of a {@code tokenizer.json} and of the {@code tokenizer_config.json} that
     * goes with it (null if none; then {@link #hfFiles} writes one).
     */
    public static HfTokenizer load(byte[] json, byte[] config, String name) throws IOException {
        JsonNode root = new ObjectMapper().readTree(json);
        int maxId = -1;
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (JsonNode id : (Iterable<JsonNode>) vocab::elements) {
                maxId = Math.max(maxId, id.asInt());
            }
        } else if (vocab.isArray()) {
            // Unigram models list [piece, score] pairs; the id is the index.
            maxId = vocab.size() - 1;
        }
        Map<String, Integer> added = new java.util.HashMap<>();
        Map<Integer, String> byId = new java.util.TreeMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            added.put(t.path("content").asText(), t.path("id").asInt());
            byId.put(t.path("id").asInt(), t.path("content").asText());
            maxId = Math.max(maxId, t.path("id").asInt());
        }
        if (maxId < 0) {
            throw new IOException(name + " has no vocabulary (model.vocab)");
        }
        Integer eos = first(added, EOS_NAMES);
        if (eos == null) {
            throw new IOException(name + " defines none of " + EOS_NAMES + " as an added token, so no EOS id is known");
        }
        Integer pad = first(added, PAD_NAMES);
        // DJL truncates to a model max length of 512 unless told not to: documents are packed and
        // split by the pipeline, so every token must come through.
        HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json),
                Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        return new HfTokenizer(tokenizer, maxId + 1, eos, pad == null ? eos : pad, json, config, byId);
    }

    /**
     * Loads {@code tokenizer.json} (or a folder holding one) with named special tokens, and the
     * {@code tokenizer_config.json} beside it when there is one.
     *
     * @param eosToken the token ending each document; null to take the first known name
     * @param padToken the token filling row tails; null to reuse the end-of-document token
     */
    public static HfTokenizer load(java.nio.file.Path path, String eosToken, String padToken) throws IOException {
        java.nio.file.Path file = java.nio.file.Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!java.nio.file.Files.isRegularFile(file)) {
            throw new IOException("no tokenizer.json at " + file);
        }
        java.nio.file.Path configFile = file.resolveSibling(HfTokenizerFiles.TOKENIZER_CONFIG);
        byte[] config = java.nio.file.Files.isRegularFile(configFile) ? java.nio.file.Files.readAllBytes(configFile) : null;
        HfTokenizer t = load(java.nio.file.Files.readAllBytes(file), config, file.toString());
        int eos = eosToken == null ? t.eosId : t.singleId(eosToken, file.toString());
        int pad = padToken == null ? eos : t.singleId(padToken, file.toString());
        return new HfTokenizer(t.tokenizer, t.vocabSize, eos, pad, t.json, t.config, t.added);
    }

    private int singleId(String token, String name) throws IOException {
        long[] ids = tokenizer.encode(token, false, false).getIds();
        if (ids.length != 1) {
            throw new IOException("token '" + token + "' is not a single token of " + name + " (it encodes to "
                    + ids.length + " ids)");
        }
        return (int) ids[0];
    }

    private static Integer first(Map<String, Integer> added, List<String> names) {
        for (String n : names) {
            if (added.containsKey(n)) {
                return added.get(n);
            }
        }
        return null;
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
        long[] in = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            in[i] = ids[i];
        }
        return tokenizer.decode(in, true);
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

    /**
     * The {@code tokenizer.json} as loaded, and its {@code tokenizer_config.json}: the one found
     * beside it, unchanged, or else one naming the EOS and PAD tokens training used and ChatML.
     */
    @Override
    public Map<String, byte[]> hfFiles() {
        Map<String, byte[]> files = new java.util.LinkedHashMap<>();
        files.put(HfTokenizerFiles.TOKENIZER_JSON, json.clone());
        files.put(HfTokenizerFiles.TOKENIZER_CONFIG, config != null ? config.clone()
                : HfTokenizerFiles.config(null, added.get(eosId), added.getOrDefault(padId, added.get(eosId)), added));
        return files;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
