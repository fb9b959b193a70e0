package ai.omnispark.trainer.cli;

import ai.omnispark.data.tokenizer.ByteTokenizer;
import ai.omnispark.data.tokenizer.HfTokenizer;
import ai.omnispark.data.tokenizer.HfTokenizerFiles;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.job.RankJob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The tokenizer the commands use with a model: the one its HF folder carries, or one named on the
 * command line ({@value RankJob#TOKENIZER_BYTE} or a {@code tokenizer.json}). A tokenizer with more
 * ids than the model's vocabulary is refused: its ids would index past the embedding.
 */
final class ModelTokenizer {
    private ModelTokenizer() {}

    /**
     * @param spec {@code byte}, a {@code tokenizer.json} or a folder holding one; blank = the one in {@code modelDir}
     */
    static Tokenizer open(Path modelDir, String spec, int vocabSize) throws IOException {
        Tokenizer t;
        if (!spec.isBlank()) {
            t = named(spec);
        } else if (Files.isRegularFile(modelDir.resolve(HfTokenizerFiles.TOKENIZER_JSON))) {
            t = load(modelDir);
        } else {
            throw new ConfigException(modelDir + " has no " + HfTokenizerFiles.TOKENIZER_JSON + " (exported before "
                    + "tokenizers travelled with models?): pass --tokenizer TOKENIZER_JSON, or --tokenizer byte for "
                    + "the built-in byte tokenizer, or give --ids");
        }
        checkFits(t, vocabSize, modelDir.toString());
        return t;
    }

    /** {@code byte}, or a {@code tokenizer.json} (or folder holding one) with the config beside it. */
    static Tokenizer named(String spec) throws IOException {
        if (spec.equals(RankJob.TOKENIZER_BYTE)) {
            return new ByteTokenizer();
        }
        Path p = Path.of(spec);
        if (!Files.exists(p)) {
            throw new ConfigException("tokenizer " + spec + " does not exist (give a tokenizer.json, a folder with one, "
                    + "or byte)");
        }
        return load(p);
    }

    /** A tokenizer file that cannot be used is a bad input, named in the message, not a crash. */
    private static HfTokenizer load(Path p) {
        try {
            return HfTokenizer.load(p, null, null);
        } catch (IOException | RuntimeException e) {
            throw new ConfigException("cannot use the tokenizer at " + p + ": " + e.getMessage());
        }
    }

    static void checkFits(Tokenizer t, int vocabSize, String model) {
        if (t.vocabSize() > vocabSize) {
            close(t);
            throw new ConfigException("the tokenizer has " + t.vocabSize() + " ids but the model " + model
                    + " has vocab_size " + vocabSize + ": they were not trained together");
        }
    }

    static void close(Tokenizer t) {
        if (t instanceof HfTokenizer hf) {
            hf.close();
        }
    }
}
