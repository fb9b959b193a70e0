package ai.omnispark.data.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfTokenizerTest {
    /** A word-level tokenizer.json written by hand: ids are known, so encoding can be checked exactly. */
    private static final String TOKENIZER_JSON = """
            {"version":"1.0","truncation":null,"padding":null,
             "added_tokens":[{"id":0,"content":"<unk>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
                             {"id":1,"content":"<eos>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
             "normalizer":null,
             "pre_tokenizer":{"type":"Whitespace"},
             "post_processor":null,"decoder":null,
             "model":{"type":"WordLevel","vocab":{"<unk>":0,"<eos>":1,"red":2,"circle":3,"a":4,"blue":5},"unk_token":"<unk>"}}
            """;

    @TempDir
    Path dir;

    @Test
    void encodesWithTheFileVocabularyAndFindsSpecialTokens() throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), TOKENIZER_JSON);
        try (HfTokenizer t = HfTokenizer.load(dir, "<eos>", null)) {
            assertArrayEquals(new int[] {4, 2, 3}, t.encode("a red circle"));
            assertArrayEquals(new int[] {5, 0}, t.encode("blue square"));
            assertEquals(1, t.eosId());
            assertEquals(1, t.padId());
            assertEquals(6, t.vocabSize());
            assertEquals("a red circle", t.decode(new int[] {4, 2, 1, 3}));
        }
    }

    /** DJL defaults to truncating at a model max length of 512 (it warns so); documents must keep every token. */
    @Test
    void aTextLongerThan512TokensKeepsEveryToken() throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), TOKENIZER_JSON);
        try (HfTokenizer t = HfTokenizer.load(dir, "<eos>", null)) {
            int[] ids = t.encode("a red circle ".repeat(400));
            assertEquals(1200, ids.length);
            assertArrayEquals(new int[] {4, 2, 3}, java.util.Arrays.copyOfRange(ids, 1197, 1200));
        }
    }

    @Test
    void missingFileAndUnknownEosAreClearErrors() throws IOException {
        IOException missing = assertThrows(IOException.class, () -> HfTokenizer.load(dir, "<eos>", null));
        assertTrue(missing.getMessage().contains("tokenizer.json"), missing.getMessage());
        Files.writeString(dir.resolve("tokenizer.json"), TOKENIZER_JSON);
        IOException eos = assertThrows(IOException.class, () -> HfTokenizer.load(dir, "two words", null));
        assertTrue(eos.getMessage().contains("two words"), eos.getMessage());
    }
}
