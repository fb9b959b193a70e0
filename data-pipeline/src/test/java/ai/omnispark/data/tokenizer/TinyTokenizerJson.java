package ai.omnispark.data.tokenizer;

import ai.omnispark.data.sample.SyntheticText;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** A word-level {@code tokenizer.json} covering the synthetic captions, small enough to write in a test. */
public final class TinyTokenizerJson {
    public static final int EOS = 0;

    private TinyTokenizerJson() {}

    public static byte[] bytes() {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ObjectNode eos = root.putArray("added_tokens").addObject();
        eos.put("id", EOS).put("content", "<|endoftext|>").put("single_word", false).put("lstrip", false)
                .put("rstrip", false).put("normalized", false).put("special", true);
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "Whitespace");
        root.putNull("post_processor");
        root.putNull("decoder");
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        model.put("unk_token", "[UNK]");
        ObjectNode vocab = model.putObject("vocab");
        Set<String> words = new LinkedHashSet<>(List.of("<|endoftext|>", "[UNK]", "a", "on", "white", "background",
                "moves", "."));
        words.addAll(List.of(SyntheticText.COLOURS));
        words.addAll(List.of(SyntheticText.SHAPES));
        words.addAll(List.of(SyntheticText.SIZES));
        words.addAll(List.of(SyntheticText.MOTIONS));
        int id = 0;
        for (String w : words) {
            vocab.put(w, id++);
        }
        return json.createObjectNode().setAll(root).toString().getBytes(StandardCharsets.UTF_8);
    }

    /** How the word-level tokenizer's decode spells a caption: tokens joined by single spaces. */
    public static String spaced(String text) {
        return text.replace(".", " .").replaceAll("\\s+", " ").trim();
    }
}
