package ai.omnispark.data.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tokenizer files of a Hugging Face model folder, {@code tokenizer.json} and
 * {@code tokenizer_config.json}, as {@link Tokenizer#hfFiles()} returns them for export.
 */
public final class HfTokenizerFiles {
    public static final String TOKENIZER_JSON = "tokenizer.json";
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";

    /** Jinja of the ChatML layout the data pipeline's {@code ChatTemplate} builds conversations with. */
    public static final String CHATML_TEMPLATE = "{% for message in messages %}{{ '<|im_start|>' + message['role'] "
            + "+ '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** Names of the byte tokenizer's special ids in its {@code tokenizer.json}. */
    static final String BYTE_BOS = "<|begin_of_text|>";
    static final String BYTE_EOS = "<|endoftext|>";
    static final String BYTE_PAD = "<pad>";

    private static final ObjectMapper JSON = new ObjectMapper();

    private HfTokenizerFiles() {}

    /**
     * The byte tokenizer as a {@code tokenizer.json} HF's tokenizers library runs: a byte-level
     * pre-tokenizer without its split regex turns the text into one word of GPT-2 byte characters,
     * and a BPE model without merges maps each character to the id of its byte, 0..255. BOS, EOS and
     * PAD are added tokens 256..258. Unlike {@link ByteTokenizer}, HF's library also recognises
     * those three names when they appear literally in text.
     */
    static Map<String, byte[]> forBytes() {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        String[] names = {BYTE_BOS, BYTE_EOS, BYTE_PAD};
        for (int i = 0; i < names.length; i++) {
            added.addObject().put("id", ByteTokenizer.BOS + i).put("content", names[i]).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        }
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel());
        root.putNull("post_processor");
        root.set("decoder", byteLevel());
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        char[] chars = byteLevelChars();
        for (int b = 0; b < 256; b++) {
            vocab.put(String.valueOf(chars[b]), b);
        }
        model.putArray("merges");
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put(TOKENIZER_JSON, bytes(root));
        files.put(TOKENIZER_CONFIG, config(BYTE_BOS, BYTE_EOS, BYTE_PAD, Map.of(ByteTokenizer.BOS, BYTE_BOS,
                ByteTokenizer.EOS, BYTE_EOS, ByteTokenizer.PAD, BYTE_PAD)));
        return files;
    }

    /**
     * A {@code tokenizer_config.json} for a {@code tokenizer.json} that came without one: the
     * special tokens training used and the ChatML template.
     *
     * @param bos null when the tokenizer has none
     * @param special the added tokens by id, for {@code added_tokens_decoder}
     */
    static byte[] config(String bos, String eos, String pad, Map<Integer, String> special) {
        ObjectNode c = JSON.createObjectNode();
        c.put("tokenizer_class", "PreTrainedTokenizerFast");
        if (bos == null) {
            c.putNull("bos_token");
        } else {
            c.put("bos_token", bos);
        }
        c.put("eos_token", eos);
        c.put("pad_token", pad);
        c.putNull("unk_token");
        c.put("add_bos_token", false);
        c.put("add_eos_token", false);
        c.put("clean_up_tokenization_spaces", false);
        c.put("chat_template", CHATML_TEMPLATE);
        ObjectNode decoder = c.putObject("added_tokens_decoder");
        new java.util.TreeMap<>(special).forEach((id, content) -> decoder.putObject(String.valueOf(id))
                .put("content", content).put("lstrip", false).put("normalized", false).put("rstrip", false)
                .put("single_word", false).put("special", true));
        return bytes(c);
    }

    private static ObjectNode byteLevel() {
        ObjectNode o = JSON.createObjectNode();
        o.put("type", "ByteLevel");
        o.put("add_prefix_space", false);
        o.put("trim_offsets", false);
        o.put("use_regex", false);
        return o;
    }

    /**
     * GPT-2's byte-to-character table, as HF's ByteLevel uses it: printable Latin-1 bytes stand for
     * themselves, the other 68 bytes take the characters from U+0100 on, in byte order.
     */
    static char[] byteLevelChars() {
        char[] chars = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            chars[b] = printable ? (char) b : (char) next++;
        }
        return chars;
    }

    private static byte[] bytes(ObjectNode node) {
        return node.toPrettyString().getBytes(StandardCharsets.UTF_8);
    }
}
