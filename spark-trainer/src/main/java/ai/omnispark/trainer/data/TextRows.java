package ai.omnispark.trainer.data;

import ai.omnispark.data.pack.Document;
import ai.omnispark.data.pack.DocumentPacker;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.tokenizer.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads a JSON-lines text file, tokenizes each document (EOS appended) and packs the rows. */
public final class TextRows {
    private TextRows() {}

    public static List<PackedRow> load(Path jsonl, String textKey, Tokenizer tokenizer, int maxSeqLen)
            throws IOException {
        if (!Files.isRegularFile(jsonl)) {
            throw new IOException("data.train_path " + jsonl + " is not a file; run `bin/omnispark sample --out DIR` "
                    + "to write the synthetic sample");
        }
        ObjectMapper json = new ObjectMapper();
        List<Document> docs = new ArrayList<>();
        try (BufferedReader reader = Files.newBufferedReader(jsonl, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = reader.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = json.readTree(line);
                } catch (IOException e) {
                    throw new IOException(jsonl + ":" + lineNo + " is not valid JSON: " + e.getMessage(), e);
                }
                JsonNode text = node.get(textKey);
                if (text == null || !text.isTextual()) {
                    throw new IOException(jsonl + ":" + lineNo + " has no string field '" + textKey
                            + "' (data.text_keys)");
                }
                docs.add(document(tokenizer, text.asText()));
            }
        }
        if (docs.isEmpty()) {
            throw new IOException(jsonl + " holds no documents");
        }
        return pack(docs, tokenizer, maxSeqLen);
    }

    /** A pre-training document: the text's tokens followed by EOS, all learned. */
    public static Document document(Tokenizer tokenizer, String text) {
        int[] ids = tokenizer.encode(text);
        int[] withEos = java.util.Arrays.copyOf(ids, ids.length + 1);
        withEos[ids.length] = tokenizer.eosId();
        return Document.ofText(withEos);
    }

    /** Rows of at most {@code maxSeqLen}; longer documents are truncated. */
    public static List<PackedRow> pack(List<Document> docs, Tokenizer tokenizer, int maxSeqLen) {
        return new DocumentPacker(maxSeqLen, tokenizer.padId(), DocumentPacker.Overflow.TRUNCATE).pack(docs).rows();
    }
}
