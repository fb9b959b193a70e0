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

    /**
     * Which documents go to which row, without building the rows: callers that carry per-document
     * side data (images, videos) need the mapping, not just the token rows.
     *
     * @param documents the input, with over-long ones already truncated when the policy says so
     * @param bins per row, indices into {@code documents} in row order
     * @param rejected indices into {@code documents} that got no row (empty, or too long under REJECT)
     */
    public record Assignment(List<Document> documents, List<int[]> bins, int[] rejected) {}

    public Result pack(List<Document> documents) {
        Assignment assignment = assign(documents);
        List<PackedRow> rows = new ArrayList<>(assignment.bins().size());
        for (int[] bin : assignment.bins()) {
            List<Document> docs = new ArrayList<>(bin.length);
            for (int i : bin) {
                docs.add(assignment.documents().get(i));
            }
            rows.add(toRow(docs));
        }
        List<Document> rejected = new ArrayList<>(assignment.rejected().length);
        for (int i : assignment.rejected()) {
            rejected.add(documents.get(i));
        }
        return new Result(rows, rejected);
    }

    public Assignment assign(List<Document> documents) {
        List<Document> applied = new ArrayList<>(documents.size());
        List<Integer> fitting = new ArrayList<>(documents.size());
        List<Integer> rejected = new ArrayList<>();
        for (int i = 0; i < documents.size(); i++) {
            Document d = documents.get(i);
            if (d.length() == 0) {
                rejected.add(i);
                applied.add(d);
            } else if (d.length() <= maxSeqLen) {
                fitting.add(i);
                applied.add(d);
            } else if (overflow == Overflow.TRUNCATE) {
                fitting.add(i);
                applied.add(new Document(Arrays.copyOf(d.tokens(), maxSeqLen),
                        Arrays.copyOf(d.trainable(), maxSeqLen)));
            } else {
                rejected.add(i);
                applied.add(d);
            }
        }
        // Stable sort by decreasing length keeps the packing deterministic for equal lengths.
        Integer[] order = fitting.toArray(new Integer[0]);
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -applied.get(i).length()));
        List<List<Integer>> bins = new ArrayList<>();
        List<Integer> free = new ArrayList<>();
        for (int idx : order) {
            int length = applied.get(idx).length();
            int target = -1;
            for (int b = 0; b < bins.size(); b++) {
                if (free.get(b) >= length) {
                    target = b;
                    break;
                }
            }
            if (target < 0) {
                bins.add(new ArrayList<>());
                free.add(maxSeqLen);
                target = bins.size() - 1;
            }
            bins.get(target).add(idx);
            free.set(target, free.get(target) - length);
        }
        List<int[]> binIndices = new ArrayList<>(bins.size());
        for (List<Integer> bin : bins) {
            binIndices.add(bin.stream().mapToInt(Integer::intValue).toArray());
        }
        return new Assignment(applied, binIndices,
                rejected.stream().mapToInt(Integer::intValue).toArray());
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
