package ai.omnispark.data.pack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DocumentPackerContractTest {
    private static Document doc(int start, int len) {
        int[] t = new int[len];
        for (int i = 0; i < len; i++) {
            t[i] = start + i;
        }
        return Document.ofText(t);
    }

    @Test
    void packsWholeDocumentsWithoutMixingThem() {
        List<Document> docs = List.of(doc(100, 5), doc(200, 3), doc(300, 7), doc(400, 2), doc(500, 8));
        DocumentPacker packer = new DocumentPacker(10, -1, DocumentPacker.Overflow.REJECT);
        DocumentPacker.Result result = packer.pack(docs);
        assertTrue(result.rejected().isEmpty());
        assertEquals(3, result.rows().size(), "25 tokens in rows of 10 by first-fit decreasing");
        Map<Integer, Integer> tokensByDoc = new HashMap<>();
        for (PackedRow row : result.rows()) {
            for (int t = 0; t < row.length(); t++) {
                int d = row.docIds()[t];
                if (d < 0) {
                    assertEquals(-1, row.inputIds()[t]);
                    assertEquals(PackedRow.IGNORE, row.labels()[t]);
                    continue;
                }
                int docStart = row.inputIds()[t] / 100 * 100;
                assertEquals(row.inputIds()[t] - docStart, row.positionIds()[t], "positions restart per document");
                boolean last = t + 1 == row.length() || row.docIds()[t + 1] != d;
                assertEquals(last ? PackedRow.IGNORE : row.inputIds()[t] + 1, row.labels()[t],
                        "labels are the next token of the same document");
                tokensByDoc.merge(docStart, 1, Integer::sum);
            }
        }
        assertEquals(Map.of(100, 5, 200, 3, 300, 7, 400, 2, 500, 8), tokensByDoc);
    }

    @Test
    void overLongDocumentsAreTruncatedOrRejected() {
        List<Document> docs = new ArrayList<>(List.of(doc(100, 12), doc(200, 0)));
        DocumentPacker.Result rejected = new DocumentPacker(10, 0, DocumentPacker.Overflow.REJECT).pack(docs);
        assertEquals(2, rejected.rejected().size());
        DocumentPacker.Result truncated = new DocumentPacker(10, 0, DocumentPacker.Overflow.TRUNCATE).pack(docs);
        assertEquals(1, truncated.rows().size());
        assertArrayEquals(new int[] {100, 101, 102, 103, 104, 105, 106, 107, 108, 109},
                truncated.rows().get(0).inputIds());
    }

    @Test
    void promptTokensCarryNoLoss() {
        Document d = new Document(new int[] {1, 2, 3, 4}, new boolean[] {false, false, true, true});
        PackedRow row = new DocumentPacker(6, 0, DocumentPacker.Overflow.REJECT).toRow(List.of(d));
        assertArrayEquals(new int[] {PackedRow.IGNORE, 3, 4, PackedRow.IGNORE, PackedRow.IGNORE, PackedRow.IGNORE},
                row.labels());
    }
}
