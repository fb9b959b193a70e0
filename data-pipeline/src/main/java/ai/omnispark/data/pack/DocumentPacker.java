package ai.omnispark.data.pack;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Packs documents into rows of at most {@code maxSeqLen} tokens by first-fit decreasing, keeping
 * each document whole and contiguous inside one row.
 */
public final class DocumentPacker {
    /** What to do with a document longer than a row. */
    public enum Overflow { TRUNCATE, REJECT }

    private final int maxSeqLen;
    private final int padId;
    private final Overflow overflow;

    public DocumentPacker(int maxSeqLen, int padId, Overflow overflow) {
        if (maxSeqLen < 2) {
            throw new IllegalArgumentException("data.max_seq_len must be >= 2, got " + maxSeqLen);
        }
        this.maxSeqLen = maxSeqLen;
        this.padId = padId;
        this.overflow = overflow;
    }

    public int maxSeqLen() {
        return maxSeqLen;
    }

    /** The result of a packing pass: rows plus the documents that did not fit (when rejecting). */
    public record Result(List<PackedRow> rows, List<Document> rejected) {}

    public Result pack(List<Document> documents) {
        List<Document> fitting = new ArrayList<>(documents.size());
        List<Document> rejected = new ArrayList<>();
        for (Document d : documents) {
            if (d.length() == 0) {
                rejected.add(d);
            } else if (d.length() <= maxSeqLen) {
                fitting.add(d);
            } else if (overflow == Overflow.TRUNCATE) {
                fitting.add(new Document(Arrays.copyOf(d.tokens(), maxSeqLen),
                        Arrays.copyOf(d.trainable(), maxSeqLen)));
            } else {
                rejected.add(d);
            }
        }
        // Stable sort by decreasing length keeps the packing deterministic for equal lengths.
        Integer[] order = new Integer[fitting.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -fitting.get(i).length()));
        List<List<Document>> bins = new ArrayList<>();
        List<Integer> free = new ArrayList<>();
        for (int idx : order) {
            Document d = fitting.get(idx);
            int target = -1;
            for (int b = 0; b < bins.size(); b++) {
                if (free.get(b) >= d.length()) {
                    target = b;
                    break;
                }
            }
            if (target < 0) {
                bins.add(new ArrayList<>());
                free.add(maxSeqLen);
                target = bins.size() - 1;
            }
            bins.get(target).add(d);
            free.set(target, free.get(target) - d.length());
        }
        List<PackedRow> rows = new ArrayList<>(bins.size());
        for (List<Document> bin : bins) {
            rows.add(toRow(bin));
        }
        return new Result(rows, rejected);
    }

    /** Lays the documents of one bin out in order, padding the tail to {@code maxSeqLen}. */
    public PackedRow toRow(List<Document> bin) {
        int[] ids = new int[maxSeqLen];
        int[] labels = new int[maxSeqLen];
        int[] pos = new int[maxSeqLen];
        int[] doc = new int[maxSeqLen];
        Arrays.fill(ids, padId);
        Arrays.fill(labels, PackedRow.IGNORE);
        Arrays.fill(doc, -1);
        int t = 0;
        for (int d = 0; d < bin.size(); d++) {
            Document document = bin.get(d);
            int n = document.length();
            if (t + n > maxSeqLen) {
                throw new IllegalArgumentException("documents of " + (t + n)
                        + " tokens do not fit a row of " + maxSeqLen);
            }
            for (int i = 0; i < n; i++) {
                ids[t + i] = document.tokens()[i];
                pos[t + i] = i;
                doc[t + i] = d;
                boolean hasNext = i + 1 < n;
                labels[t + i] = hasNext && document.trainable()[i + 1]
                        ? document.tokens()[i + 1] : PackedRow.IGNORE;
            }
            t += n;
        }
        return new PackedRow(ids, labels, pos, doc);
    }
}
