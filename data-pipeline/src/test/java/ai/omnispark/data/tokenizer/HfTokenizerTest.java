package ai.omnispark.data.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.omnispark.data.sample.SyntheticText;
import org.junit.jupiter.api.Test;

class HfTokenizerTest {
    @Test
    void tokenizerJsonRoundTripsAndNamesItsSpecialTokens() throws Exception {
        try (HfTokenizer tokenizer = HfTokenizer.load(TinyTokenizerJson.bytes(), "tiny")) {
            assertEquals(TinyTokenizerJson.EOS, tokenizer.eosId());
            assertEquals(TinyTokenizerJson.EOS, tokenizer.padId(), "<|endoftext|> pads too, as in Qwen");
            assertEquals(2 + 6 + SyntheticText.COLOURS.length + SyntheticText.SHAPES.length
                    + SyntheticText.SIZES.length + SyntheticText.MOTIONS.length, tokenizer.vocabSize());
            for (String text : SyntheticText.documents(1, 20)) {
                int[] ids = tokenizer.encode(text);
                assertEquals(TinyTokenizerJson.spaced(text).split(" ").length, ids.length, text);
                assertEquals(TinyTokenizerJson.spaced(text), tokenizer.decode(ids));
            }
        }
    }
}
