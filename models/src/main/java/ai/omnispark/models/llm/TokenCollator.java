package ai.omnispark.models.llm;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.Sample;
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
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("a micro-batch needs at least one sample");
        }
        int seqLen = samples.get(0).length();
        int n = samples.size() * seqLen;
        int[] ids = new int[n];
        int[] labels = new int[n];
        int[] pos = new int[n];
        int[] doc = new int[n];
        for (int r = 0; r < samples.size(); r++) {
            Sample row = samples.get(r);
            if (row.length() != seqLen) {
                throw new IllegalStateException("rows of one micro-batch differ in length: " + seqLen + " and " + row.length());
            }
            System.arraycopy(row.ints(Sample.INPUT_IDS), 0, ids, r * seqLen, seqLen);
            System.arraycopy(row.ints(Sample.LABELS), 0, labels, r * seqLen, seqLen);
            System.arraycopy(row.ints(Sample.POSITION_IDS), 0, pos, r * seqLen, seqLen);
            System.arraycopy(row.ints(Sample.DOC_IDS), 0, doc, r * seqLen, seqLen);
        }
        Batch batch = DecoderBatch.build(scope, config, dtype, samples.size(), seqLen, ids, labels, pos, doc);
        if (random != null) {
            DecoderBatch.addAttentionDropout(batch, scope, config, dtype, samples.size(), seqLen, random);
            lora.addDropout(batch, scope, dtype, samples.size(), seqLen, random);
        }
        return batch;
    }
}
