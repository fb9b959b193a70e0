package ai.omnispark.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class InMemoryRowsTest {
    private static List<PackedRow> rows(int n) {
        List<PackedRow> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            rows.add(new PackedRow(new int[] {i}, new int[] {i}, new int[] {0}, new int[] {0}));
        }
        return rows;
    }

    private static List<Integer> ids(List<Sample> rows) {
        return rows.stream().map(r -> r.ints(Sample.INPUT_IDS)[0]).toList();
    }

    @Test
    void everyRowOncePerEpochAcrossRanksAndEpochsDiffer() {
        List<PackedRow> data = rows(23);
        int dp = 3;
        Set<Integer> seen = new HashSet<>();
        List<Integer> epoch0 = new ArrayList<>();
        List<Integer> epoch1 = new ArrayList<>();
        for (int r = 0; r < dp; r++) {
            InMemoryRows source = new InMemoryRows(data, 5, r, dp);
            assertEquals(7, source.rowsPerEpoch());
            List<Integer> first = ids(source.next(7));
            epoch0.addAll(first);
            epoch1.addAll(ids(source.next(7)));
            seen.addAll(first);
        }
        assertEquals(21, seen.size(), "21 distinct rows (23 less the 2-row tail) in epoch 0");
        assertEquals(21, new HashSet<>(epoch1).size());
        assertNotEquals(epoch0, epoch1);
    }

    @Test
    void rowsComeOutAsTokenSamplesOfTheirColumns() {
        List<PackedRow> data = List.of(new PackedRow(new int[] {5, 6, 7}, new int[] {6, 7, PackedRow.IGNORE},
                new int[] {0, 1, 2}, new int[] {0, 0, 0}));
        Sample s = new InMemoryRows(data, 1, 0, 1).next(1).get(0);
        assertEquals(SampleLayout.TOKENS, s.layout());
        assertEquals(Set.of(Sample.INPUT_IDS, Sample.LABELS, Sample.POSITION_IDS, Sample.DOC_IDS), s.columns().keySet());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {5, 6, 7}, s.ints(Sample.INPUT_IDS));
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {6, 7, Sample.IGNORE}, s.ints(Sample.LABELS));
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {0, 1, 2}, s.ints(Sample.POSITION_IDS));
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {0, 0, 0}, s.ints(Sample.DOC_IDS));
    }

    @Test
    void cursorResumesExactly() {
        List<PackedRow> data = rows(10);
        InMemoryRows a = new InMemoryRows(data, 1, 0, 1);
        a.next(13);
        long[] cursor = a.cursor();
        List<Integer> expected = ids(a.next(9));
        InMemoryRows b = new InMemoryRows(data, 1, 0, 1);
        b.seek(cursor);
        assertEquals(expected, ids(b.next(9)));
    }
}
