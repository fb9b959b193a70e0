package ai.omnispark.models.llm;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.List;

/** Packed token rows of equal length to a decoder batch, plus a training step's attention-dropout masks. */
final class TokenCollator implements Collator {
    private final DecoderConfig config;
    private final DecoderLora lora;

    TokenCollator(DecoderConfig config, DecoderLora lora) {
        this.config = config;
        this.lora = lora;
    }

    @Override
    public Batch collate(NDManager scope, List<Sample> samples, DataType dtype, RankRandom random) {
        int[][] columns = TokenBatch.columns(samples);
        int seqLen = samples.get(0).length();
        Batch batch = DecoderBatch.build(scope, config, dtype, samples.size(), seqLen, columns[0], columns[1],
                columns[2], columns[3]);
        if (random != null) {
            DecoderBatch.addAttentionDropout(batch, scope, config, dtype, samples.size(), seqLen, random);
            lora.addDropout(batch, scope, dtype, samples.size(), seqLen, random);
        }
        return batch;
    }
}
