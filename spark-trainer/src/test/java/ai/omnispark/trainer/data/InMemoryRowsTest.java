package ai.omnispark.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import ai.omnispark.data.pack.PackedRow;
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

    private static List<Integer> ids(List<PackedRow> rows) {
        return rows.stream().map(r -> r.inputIds()[0]).toList();
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
