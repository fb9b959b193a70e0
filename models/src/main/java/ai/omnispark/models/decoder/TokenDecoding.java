package ai.omnispark.models.decoder;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.CachedDecoding;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.nn.attention.KvCache;
import ai.omnispark.parallel.engine.Batch;
import java.util.Arrays;
import java.util.List;

/**
 * Cached decoding of a token-only decoder through its own collator: a token's rotary position is
 * the one after the previous token's, the prompt's taken from its {@code position_ids}.
 */
public final class TokenDecoding implements CachedDecoding {
    private final Collator collator;

    public TokenDecoding(Collator collator) {
        this.collator = collator;
    }

    @Override
    public Batch prompt(NDManager scope, Sample prompt, DataType dtype) {
        int[] docs = prompt.ints(Sample.DOC_IDS);
        if (Arrays.stream(docs).distinct().count() > 1) {
            throw new IllegalArgumentException("a decoding prompt is one document; its doc_ids hold "
                    + Arrays.stream(docs).distinct().count());
        }
        Batch batch = collator.collate(scope, List.of(prompt), dtype, null);
        KvCache.enable(batch, scope, Arrays.stream(prompt.ints(Sample.POSITION_IDS)).max().orElse(-1) + 1L);
        return batch;
    }

    @Override
    public Batch next(NDManager scope, Batch previous, int token, DataType dtype) {
        long position = KvCache.nextPosition(previous);
        Batch batch = collator.collate(scope, List.of(Sample.tokens(new int[] {token}, new int[] {Sample.IGNORE},
                new int[] {Math.toIntExact(position)}, new int[1])), dtype, null);
        KvCache.carry(previous, batch, scope);
        KvCache.enable(batch, scope, position + 1);
        return batch;
    }
}
