package ai.omnispark.trainer.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The tiny Qwen3 config.json (2 layers, hidden 32, byte-tokenizer vocabulary) the trainer's tests train. */
public final class TinyModel {
    private TinyModel() {}

    /** Writes {@code dir/tiny.json} and returns its path. */
    public static Path write(Path dir, boolean tiedEmbeddings) throws IOException {
        Path file = dir.resolve("tiny.json");
        Files.writeString(file, """
                {"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","vocab_size":259,"hidden_size":32,
                 "intermediate_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
                 "head_dim":8,"rms_norm_eps":1e-6,"rope_theta":10000.0,"max_position_embeddings":512,
                 "tie_word_embeddings":%s,"bos_token_id":256,"eos_token_id":257}
                """.formatted(tiedEmbeddings));
        return file;
    }
}
