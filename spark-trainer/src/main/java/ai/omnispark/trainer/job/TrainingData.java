package ai.omnispark.trainer.job;

import ai.omnispark.data.pack.Document;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.sample.SyntheticText;
import ai.omnispark.data.tokenizer.ByteTokenizer;
import ai.omnispark.data.tokenizer.HfTokenizer;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.data.TextRows;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Resolves {@code data.*} and {@code model.tokenizer_path} into packed rows. */
public final class TrainingData {
    /** {@code data.train_path} value that means the bundled synthetic text, generated in memory. */
    public static final String SYNTHETIC_TEXT = "synthetic://text";
    public static final int SYNTHETIC_DOCUMENTS = 2000;

    private TrainingData() {}

    public static Tokenizer tokenizer(JobConfig job) {
        String path = job.model().tokenizerPath();
        if (path.isBlank()) {
            return new ByteTokenizer();
        }
        String pad = job.data().padToken();
        try {
            return HfTokenizer.load(Path.of(path), job.data().eosToken(), pad.isBlank() ? null : pad);
        } catch (IOException e) {
            throw new ConfigException("model.tokenizer_path: " + e.getMessage());
        }
    }

    public static List<PackedRow> rows(JobConfig job, Tokenizer tokenizer) throws IOException {
        String type = job.data().dataType();
        if (!type.equals("plaintext")) {
            throw new ConfigException("data.data_type '" + type + "' needs the prepare step; the trainer reads "
                    + "plaintext directly");
        }
        String path = job.data().trainPath();
        int maxSeqLen = job.data().maxSeqLen();
        if (path.equals(SYNTHETIC_TEXT)) {
            List<Document> docs = new ArrayList<>();
            for (String text : SyntheticText.documents(job.train().seed(), SYNTHETIC_DOCUMENTS)) {
                docs.add(TextRows.document(tokenizer, text));
            }
            return TextRows.pack(docs, tokenizer, maxSeqLen);
        }
        return TextRows.load(Path.of(path), job.data().textKeys(), tokenizer, maxSeqLen);
    }
}
