package ai.omnispark.models.decoder;

import ai.omnispark.models.api.Sample;
import java.util.SplittableRandom;

/** Packed token rows for the decoder families' tests. */
public final class PackedRows {
    private PackedRows() {}

    /**
     * Two rows of {@code seqLen}, as the columns {input_ids, labels, position_ids, doc_ids} flattened
     * row-major: row 0 packs three documents, row 1 two and a padded tail (id 0, ignored label,
     * position 0, document -1). Token ids are drawn from {@code seed}, row by row.
     */
    public static int[][] columns(int seqLen, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = 2 * seqLen;
        int[] ids = new int[n];
        int[] labels = new int[n];
        int[] pos = new int[n];
        int[] doc = new int[n];
        int[][] docLengths = {{3, seqLen - 5, 2}, {seqLen / 2, seqLen / 2 - 2}};
        for (int row = 0; row < 2; row++) {
            int t = row * seqLen;
            int d = 0;
            for (int len : docLengths[row]) {
                for (int i = 0; i < len; i++) {
                    ids[t + i] = r.nextInt(vocab);
                    pos[t + i] = i;
                    doc[t + i] = d;
                }
                for (int i = 0; i < len; i++) {
                    labels[t + i] = i + 1 < len ? ids[t + i + 1] : Sample.IGNORE;
                }
                t += len;
                d++;
            }
            for (; t < (row + 1) * seqLen; t++) {
                ids[t] = 0;
                labels[t] = Sample.IGNORE;
                pos[t] = 0;
                doc[t] = -1;
            }
        }
        return new int[][] {ids, labels, pos, doc};
    }
}
