package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every op × dtype × world size × even/uneven size on both CPU transports (TCP both over loopback
 * and over Unix domain sockets), each result compared
 * with the answer computed here from all ranks' inputs. Chunks are 64 bytes so that small arrays
 * still cross many chunk and segment boundaries of the pipelined ring.
 */
class CollectiveTest {
    static final DataType[] DTYPES = {DataType.FLOAT32, DataType.FLOAT16, DataType.INT64, DataType.INT32};
    static final int CHUNK = 64;

    enum Op { ALL_REDUCE, ALL_GATHER, REDUCE_SCATTER, ALL_TO_ALL, ALL_TO_ALL_V, BROADCAST, SEND_RECV, BARRIER }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Transport t : new Transport[] {Transport.IN_PROCESS, Transport.TCP}) {
            for (boolean localSockets : t == Transport.TCP ? new boolean[] {false, true}
                    : new boolean[] {false}) {
                for (int world : new int[] {2, 3, 4}) {
                    for (Op op : Op.values()) {
                        out.add(Arguments.of(t, world, op, localSockets));
                    }
                }
            }
        }
        return out.stream();
    }

    /** Small integers, so sums of a few ranks are exact in every dtype. */
    static double value(int rank, long i) {
        return Math.floorMod(rank * 7 + i * 3, 17) - 8;
    }

    static double[] values(int rank, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = value(rank, i);
        }
        return v;
    }

    static NDArray array(NDManager m, DataType dt, double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        NDArray a = m.create(f, new Shape(v.length));
        return dt == DataType.FLOAT32 ? a : a.toType(dt, false);
    }

    static double[] read(NDArray a) {
        return a.toType(DataType.FLOAT64, false).toDoubleArray();
    }

    static void assertClose(double[] expected, double[] got, DataType dt, String what) {
        assertEquals(expected.length, got.length, what + ": length");
        double tol = dt == DataType.FLOAT16 ? 1e-2 : dt == DataType.FLOAT32 ? 1e-5 : 0;
        for (int i = 0; i < expected.length; i++) {
            if (Math.abs(expected[i] - got[i]) > tol) {
                throw new AssertionError(what + ": element " + i + " expected " + expected[i]
                        + " got " + got[i]);
            }
        }
    }

    static double combine(ReduceOp op, double[] vals, DataType dt) {
        double acc = op == ReduceOp.MAX ? Double.NEGATIVE_INFINITY : 0;
        for (double v : vals) {
            acc = op == ReduceOp.MAX ? Math.max(acc, v) : acc + v;
        }
        if (op == ReduceOp.AVG) {
            boolean integer = dt == DataType.INT32 || dt == DataType.INT64;
            acc = integer ? (double) ((long) acc / vals.length) : acc / vals.length;
        }
        return acc;
    }

    @ParameterizedTest(name = "{0} world={1} {2} localSockets={3}")
    @MethodSource("cases")
    void opMatchesLocalAnswer(Transport transport, int world, Op op, boolean localSockets)
            throws Exception {
        try (Cluster c = Cluster.start(transport, world, Duration.ofSeconds(20), CHUNK, localSockets)) {
            LocalSocketsTest.assertLinks(c, localSockets);
            for (DataType dt : DTYPES) {
                // even: whole chunks and segments; uneven: neither; 0 and 1: edge cases
                for (int n : new int[] {16 * world, 37, 1, 0}) {
                    String what = transport + (localSockets ? "/unix" : "") + " world=" + world + " " + op + " " + dt + " n=" + n;
                    switch (op) {
                        case ALL_REDUCE:
                            for (ReduceOp r : ReduceOp.values()) {
                                allReduce(c, dt, n, r, what + " " + r);
                            }
                            break;
                        case ALL_GATHER:
                            allGather(c, dt, n, what);
                            break;
                        case REDUCE_SCATTER:
                            for (ReduceOp r : ReduceOp.values()) {
                                reduceScatter(c, dt, n, r, what + " " + r);
                            }
                            break;
                        case ALL_TO_ALL:
                            allToAll(c, dt, n - n % world, what);
                            break;
                        case ALL_TO_ALL_V:
                            allToAllV(c, dt, n, what);
                            break;
                        case BROADCAST:
                            broadcast(c, dt, n, what);
                            break;
                        case SEND_RECV:
                            sendRecv(c, dt, n, what);
                            break;
                        case BARRIER:
                            barrier(c);
                            break;
                        default:
                            throw new AssertionError(op);
                    }
                }
            }
        }
    }

    static void allReduce(Cluster c, DataType dt, int n, ReduceOp op, String what) throws Exception {
        List<double[]> got = c.run((r, comm, m) -> {
            NDArray a = array(m, dt, values(r, n));
            comm.allReduce(a, op).await();
            double[] out = read(a);
            a.close();
            return out;
        });
        double[] expected = new double[n];
        for (int i = 0; i < n; i++) {
            double[] vals = new double[c.world];
            for (int r = 0; r < c.world; r++) {
                vals[r] = value(r, i);
            }
            expected[i] = combine(op, vals, dt);
        }
        for (int r = 0; r < c.world; r++) {
            assertClose(expected, got.get(r), dt, what + " rank " + r);
        }
    }

    static void allGather(Cluster c, DataType dt, int n, String what) throws Exception {
        List<double[]> got = c.run((r, comm, m) -> {
            try (NDManager s = m.newSubManager()) {
                NDArray in = array(s, dt, values(r, n));
                NDArray out = s.zeros(new Shape((long) n * c.world), dt);
                comm.allGather(in, out).await();
                return read(out);
            }
        });
        double[] expected = new double[n * c.world];
        for (int r = 0; r < c.world; r++) {
            System.arraycopy(values(r, n), 0, expected, r * n, n);
        }
        for (int r = 0; r < c.world; r++) {
            assertClose(expected, got.get(r), dt, what + " rank " + r);
        }
    }

    static void reduceScatter(Cluster c, DataType dt, int n, ReduceOp op, String what) throws Exception {
        int total = n * c.world;
        List<double[]> got = c.run((r, comm, m) -> {
            try (NDManager s = m.newSubManager()) {
                NDArray in = array(s, dt, values(r, total));
                NDArray out = s.zeros(new Shape(n), dt);
                comm.reduceScatter(in, out, op).await();
                return read(out);
            }
        });
        for (int p = 0; p < c.world; p++) {
            double[] expected = new double[n];
            for (int i = 0; i < n; i++) {
                double[] vals = new double[c.world];
                for (int r = 0; r < c.world; r++) {
                    vals[r] = value(r, (long) p * n + i);
                }
                expected[i] = combine(op, vals, dt);
            }
            assertClose(expected, got.get(p), dt, what + " rank " + p);
        }
    }

    static void allToAll(Cluster c, DataType dt, int n, String what) throws Exception {
        int block = n / c.world;
        List<double[]> got = c.run((r, comm, m) -> {
            try (NDManager s = m.newSubManager()) {
                NDArray in = array(s, dt, values(r, n));
                NDArray out = s.zeros(new Shape(n), dt);
                comm.allToAll(in, out).await();
                return read(out);
            }
        });
        for (int p = 0; p < c.world; p++) {
            double[] expected = new double[n];
            for (int i = 0; i < c.world; i++) {
                for (int j = 0; j < block; j++) {
                    expected[i * block + j] = value(i, (long) p * block + j);
                }
            }
            assertClose(expected, got.get(p), dt, what + " rank " + p);
        }
    }

    /** Elements rank i sends to rank j: zero for some pairs, including a rank's own block. */
    static long count(int i, int j, int n) {
        return (i + 2L * j + n) % 4;
    }

    private void allToAllV(Cluster c, DataType dt, int n, String what) throws Exception {
        int w = c.world;
        List<double[]> got = c.run((r, comm, m) -> {
            long[] send = new long[w];
            long[] recv = new long[w];
            for (int j = 0; j < w; j++) {
                send[j] = count(r, j, n);
                recv[j] = count(j, r, n);
            }
            try (NDManager s = m.newSubManager()) {
                NDArray in = array(s, dt, values(r, (int) sum(send)));
                NDArray out = s.zeros(new Shape(sum(recv)), dt);
                comm.allToAllV(in, send, out, recv).await();
                return read(out);
            }
        });
        for (int p = 0; p < w; p++) {
            List<Double> expected = new ArrayList<>();
            for (int i = 0; i < w; i++) {
                long off = 0;
                for (int j = 0; j < p; j++) {
                    off += count(i, j, n);
                }
                for (long k = 0; k < count(i, p, n); k++) {
                    expected.add(value(i, off + k));
                }
            }
            assertClose(expected.stream().mapToDouble(Double::doubleValue).toArray(), got.get(p),
                    dt, what + " rank " + p);
        }
    }

    static long sum(long[] a) {
        long s = 0;
        for (long x : a) {
            s += x;
        }
        return s;
    }

    private void broadcast(Cluster c, DataType dt, int n, String what) throws Exception {
        int root = c.world - 1;
        List<double[]> got = c.run((r, comm, m) -> {
            try (NDManager s = m.newSubManager()) {
                NDArray a = array(s, dt, values(r, n));
                comm.broadcast(a, root).await();
                return read(a);
            }
        });
        for (int r = 0; r < c.world; r++) {
            assertClose(values(root, n), got.get(r), dt, what + " rank " + r);
        }
    }

    /** Rank 0 sends to every rank, then every rank answers; no cycle of blocked sends. */
    private void sendRecv(Cluster c, DataType dt, int n, String what) throws Exception {
        List<double[][]> got = c.run((r, comm, m) -> {
            try (NDManager s = m.newSubManager()) {
                double[][] res = new double[c.world][];
                if (r == 0) {
                    for (int q = 1; q < c.world; q++) {
                        comm.send(array(s, dt, values(100 + q, n)), q);
                    }
                    for (int q = 1; q < c.world; q++) {
                        NDArray in = s.zeros(new Shape(n), dt);
                        comm.recv(in, q).await();
                        res[q] = read(in);
                    }
                } else {
                    NDArray in = s.zeros(new Shape(n), dt);
                    comm.recv(in, 0).await();
                    res[0] = read(in);
                    comm.send(array(s, dt, values(200 + r, n)), 0).await();
                }
                return res;
            }
        });
        for (int q = 1; q < c.world; q++) {
            assertClose(values(200 + q, n), got.get(0)[q], dt, what + " rank 0 from " + q);
            assertClose(values(100 + q, n), got.get(q)[0], dt, what + " rank " + q + " from 0");
        }
    }

    private void barrier(Cluster c) throws Exception {
        long start = System.nanoTime();
        List<Long> done = c.run((r, comm, m) -> {
            Thread.sleep(20L * r);
            comm.barrier().await();
            return System.nanoTime() - start;
        });
        long lastArrival = 20L * (c.world - 1) * 1_000_000;
        for (long t : done) {
            assertTrue(t >= lastArrival, "barrier released before the last rank arrived");
        }
    }
}
