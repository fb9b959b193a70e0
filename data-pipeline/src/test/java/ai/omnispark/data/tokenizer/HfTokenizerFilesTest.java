package ai.omnispark.data.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import ai.omnispark.data.pack.Document;
import ai.omnispark.data.pipeline.ChatTemplate;
import ai.omnispark.data.pipeline.Message;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tokenizer files a HF export carries. */
class HfTokenizerFilesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /**
     * {@code tokenizer/byte-tokenizer-js-ids.json} holds the ids HF's JavaScript tokenizer (npm
     * {@code @huggingface/tokenizers} 0.2.0, independent of the Rust library DJL runs) gives for
     * {@code tokenizer/texts.json} under the byte tokenizer's exported {@code tokenizer.json};
     * generated with {@code node tokenizer/js-ids.mjs tokenizer.json texts.json}. The ids must be
     * the texts' UTF-8 bytes, as {@link ByteTokenizer} gives them, and DJL must agree.
     */
    @Test
    void theByteTokenizersTokenizerJsonGivesItsIdsUnderBothHfImplementations() throws Exception {
        Map<String, byte[]> files = new ByteTokenizer().hfFiles();
        byte[] tokenizerJson = files.get("tokenizer.json");
        JsonNode table = resource("tokenizer/byte-tokenizer-js-ids.json");
        assertEquals(table.get("tokenizer_sha256").asText(), sha256(tokenizerJson),
                "the byte tokenizer.json changed since the JS ids were generated: regenerate the table with js-ids.mjs");
        ByteTokenizer bytes = new ByteTokenizer();
        try (HfTokenizer djl = HfTokenizer.load(tokenizerJson, "byte tokenizer.json")) {
            assertEquals(ByteTokenizer.VOCAB_SIZE, djl.vocabSize());
            assertEquals(ByteTokenizer.EOS, djl.eosId());
            assertTrue(table.get("rows").size() >= 8);
            for (JsonNode row : table.get("rows")) {
                String text = row.get("text").asText();
                int[] js = JSON.treeToValue(row.get("ids"), int[].class);
                byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
                assertEquals(utf8.length, js.length, text);
                for (int i = 0; i < utf8.length; i++) {
                    assertEquals(utf8[i] & 0xFF, js[i], "JS id " + i + " of " + text);
                }
                assertArrayEquals(js, bytes.encode(text), text);
                assertArrayEquals(js, djl.encode(text), text);
                assertEquals(text, djl.decode(js));
            }
        }
    }

    @Test
    void theByteTokenizersConfigNamesItsSpecialTokensAndChatMl() throws IOException {
        JsonNode config = JSON.readTree(new ByteTokenizer().hfFiles().get("tokenizer_config.json"));
        assertEquals("<|endoftext|>", config.get("eos_token").asText());
        assertEquals("<pad>", config.get("pad_token").asText());
        assertEquals("<|endoftext|>", config.get("added_tokens_decoder").get(String.valueOf(ByteTokenizer.EOS))
                .get("content").asText());
        assertEquals("<pad>", config.get("added_tokens_decoder").get(String.valueOf(ByteTokenizer.PAD))
                .get("content").asText());
        assertEquals(HfTokenizerFiles.CHATML_TEMPLATE, config.get("chat_template").asText());
    }

    /**
     * The exported chat template renders conversations as training laid them out.
     * {@code tokenizer/chatml-js-render.json} is the template rendered by HF's JavaScript Jinja
     * (npm {@code @huggingface/jinja} 0.5.11, with {@code tokenizer/chat-template.mjs}); the data
     * pipeline's {@link ChatTemplate} must give the same text for the same messages.
     */
    @Test
    void theChatTemplateRendersTheLayoutTrainingUses() throws Exception {
        JsonNode js = resource("tokenizer/chatml-js-render.json");
        assertEquals(js.get("template_sha256").asText(),
                sha256(HfTokenizerFiles.CHATML_TEMPLATE.getBytes(StandardCharsets.UTF_8)),
                "CHATML_TEMPLATE changed since it was rendered: regenerate the table with chat-template.mjs");
        List<Message> messages = new ArrayList<>();
        for (JsonNode m : js.get("messages")) {
            messages.add(new Message(m.get("role").asText(), m.get("content").asText()));
        }
        ByteTokenizer bytes = new ByteTokenizer();
        Document doc = ChatTemplate.apply(bytes, messages, List.of(), null);
        assertEquals(js.get("rendered").asText(), bytes.decode(doc.tokens()));
        // With the generation prompt the text ends where the model's answer starts.
        assertEquals(js.get("rendered_with_generation_prompt").asText(),
                js.get("rendered").asText().substring(0, js.get("rendered").asText().indexOf("A small red circle")));
    }

    @Test
    void aTokenizerJsonTravelsUnchangedWithTheConfigBesideIt() throws IOException {
        byte[] tokenizerJson = new ByteTokenizer().hfFiles().get("tokenizer.json");
        Files.write(dir.resolve("tokenizer.json"), tokenizerJson);
        try (HfTokenizer t = HfTokenizer.load(dir, "<|endoftext|>", "<pad>")) {
            Map<String, byte[]> files = t.hfFiles();
            assertArrayEquals(tokenizerJson, files.get("tokenizer.json"));
            // None beside it: one is written naming the EOS and PAD training used.
            JsonNode made = JSON.readTree(files.get("tokenizer_config.json"));
            assertEquals("<|endoftext|>", made.get("eos_token").asText());
            assertEquals("<pad>", made.get("pad_token").asText());
        }
        byte[] config = "{\"eos_token\":\"<|endoftext|>\",\"chat_template\":\"custom\"}".getBytes(StandardCharsets.UTF_8);
        Files.write(dir.resolve("tokenizer_config.json"), config);
        try (HfTokenizer t = HfTokenizer.load(dir.resolve("tokenizer.json"), null, null)) {
            assertArrayEquals(config, t.hfFiles().get("tokenizer_config.json"));
        }
    }

    @Test
    void gpt2ByteCharactersAreAPermutationOfTheirOwnRange() {
        char[] chars = HfTokenizerFiles.byteLevelChars();
        // GPT-2's table: 188 printable bytes stand for themselves, the other 68 take U+0100..U+0143.
        assertEquals('!', chars['!']);
        assertEquals('\u0100', chars[0]);
        assertEquals('\u0120', chars[' ']);
        assertEquals('\u0143', chars[0xAD]);
        assertEquals(256, new String(chars).chars().distinct().count());
    }

    private static JsonNode resource(String name) throws IOException {
        try (InputStream in = HfTokenizerFilesTest.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("no test resource " + name);
            }
            return JSON.readTree(in);
        }
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }
}
