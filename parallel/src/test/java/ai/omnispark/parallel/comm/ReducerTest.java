package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * The reducer's tiled loops against element-by-element answers computed here, over lengths that
 * cross tile boundaries, with several sources and destinations and a fused mean.
 */
class ReducerTest {
    /** Not a multiple of the 8192-element tile, and more than two tiles. */
    static final int N = 3 * 8192 + 77;

    static double value(int src, int i) {
        return Math.floorMod(src * 13 + i * 7, 29) - 14;
    }

    static ByteBuffer fill(DataType dt, int src) {
        int e = Buffers.elementBytes(dt);
        ByteBuffer b = Buffers.allocate((long) N * e);
        for (int i = 0; i < N; i++) {
            double v = value(src, i);
            switch (dt) {
                case FLOAT32:
                    b.putFloat(i * e, (float) v);
                    break;
                case FLOAT16:
                    b.putShort(i * e, Half.fromFloat((float) v));
                    break;
                case INT32:
                    b.putInt(i * e, (int) v);
                    break;
                default:
                    b.putLong(i * e, (long) v);
            }
        }
        return b;
    }

    static double get(ByteBuffer b, DataType dt, int i) {
        int e = Buffers.elementBytes(dt);
        switch (dt) {
            case FLOAT32:
                return b.getFloat(i * e);
            case FLOAT16:
                return Half.toFloat(b.getShort(i * e));
            case INT32:
                return b.getInt(i * e);
            default:
                return b.getLong(i * e);
        }
    }

    @Test
    void combinesIntoEveryDestinationWithAFusedMean() {
        Reducer reducer = new Reducer();
        for (DataType dt : CollectiveTest.DTYPES) {
            for (ReduceOp op : ReduceOp.values()) {
                for (int sources : new int[] {1, 2, 4}) {
                    ByteBuffer[] srcs = new ByteBuffer[sources];
                    for (int s = 0; s < sources; s++) {
                        srcs[s] = fill(dt, s);
                    }
                    // in place into every source, as the in-process all-reduce does
                    int divisor = op == ReduceOp.AVG ? sources : 1;
                    reducer.combine(srcs, srcs, dt, op, divisor);
                    for (int i = 0; i < N; i++) {
                        double[] vals = new double[sources];
                        for (int s = 0; s < sources; s++) {
                            vals[s] = value(s, i);
                        }
                        double expected = CollectiveTest.combine(op, vals, dt);
                        for (int s = 0; s < sources; s++) {
                            assertEquals(expected, get(srcs[s], dt, i), dt == DataType.FLOAT16 ? 1e-2 : 1e-6,
                                    dt + " " + op + " sources=" + sources + " dst " + s + " element " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void aMeanIntoOneOfItsSourcesMatchesElementwiseAnswers() {
        Reducer reducer = new Reducer();
        for (DataType dt : CollectiveTest.DTYPES) {
            ByteBuffer dst = fill(dt, 0);
            reducer.combine(new ByteBuffer[] {dst}, new ByteBuffer[] {dst, fill(dt, 1), fill(dt, 2)}, dt,
                    ReduceOp.SUM, 3);
            for (int i = 0; i < N; i++) {
                double expected = CollectiveTest.combine(ReduceOp.AVG,
                        new double[] {value(0, i), value(1, i), value(2, i)}, dt);
                assertEquals(expected, get(dst, dt, i), dt == DataType.FLOAT16 ? 1e-2 : 1e-6,
                        dt + " element " + i);
            }
        }
    }
}
