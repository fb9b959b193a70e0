package ai.omnispark.parallel.comm;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.PrintStream;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Times collectives of float32 buffers with every rank a thread of this JVM (over loopback TCP
 * for tcp, over Unix domain sockets for uds) and prints one JSON line per case ({@link CommBenchResult}). {@code bytes} is,
 * as in nccl-tests, the all-reduce buffer, the all-gather output, the reduce-scatter input and the
 * all-to-all buffer, rounded down to a whole number of elements per rank.
 *
 * <pre>
 * CommBench [--transport tcp|uds|inproc] [--world 2,4] [--op all_reduce|all_gather|reduce_scatter|all_to_all]
 *           [--sizes 1M,16M,64M] [--warmup 2] [--iters 5] [--chunk 256K]
 *           [--tcp-congestion auto|system|reno|...]
 * </pre>
 */
public final class CommBench {
    private CommBench() {}

    public static void main(String[] args) throws Exception {
        run(args, System.out);
    }

    /** Runs every case of {@code args}; IllegalArgumentException naming a bad flag or value. */
    public static void run(String[] args, PrintStream out) throws Exception {
        CommBenchArgs a = CommBenchArgs.parse(args);
        for (int world : a.worlds) {
            for (String op : a.ops) {
                for (long size : a.sizes) {
                    long bytes = effectiveBytes(op, world, size);
                    for (BenchTransport t : a.transports) {
                        double ms = time(t, world, op, bytes, a);
                        out.println(new CommBenchResult(t.label, world, op, bytes, ms).json());
                        out.flush();
                    }
                }
            }
        }
    }

    /** The bytes actually moved: whole float32 elements, and for the split ops whole blocks per rank. */
    static long effectiveBytes(String op, int world, long size) {
        long elems = size / 4;
        if (!op.equals("all_reduce")) {
            elems = elems / world * world;
        }
        if (elems == 0) {
            throw new IllegalArgumentException("bench comm: --sizes " + size + " bytes is less than "
                    + "one float32 per rank for " + op + " at world " + world);
        }
        return elems * 4;
    }

    /** Mean milliseconds per op, the slowest rank's. */
    static double time(BenchTransport transport, int world, String op, long bytes, CommBenchArgs a)
            throws Exception {
        List<String> peers = transport.transport == Transport.TCP ? FreePorts.loopback(world) : List.of();
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<Double>> fs = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                CommConfig c = CommConfig.builder().rank(r).worldSize(world).peers(peers)
                        .secret(secret).transport(transport.transport).localSockets(transport.localSockets)
                        .timeout(Duration.ofSeconds(120)).chunkBytes(a.chunkBytes)
                        .tcpCongestion(a.tcpCongestion).build();
                fs.add(pool.submit(() -> rank(c, op, bytes, a.warmup, a.iters)));
            }
            double worst = 0;
            for (Future<Double> f : fs) {
                worst = Math.max(worst, f.get());
            }
            return worst;
        } finally {
            pool.shutdownNow();
        }
    }

    private static double rank(CommConfig c, String op, long bytes, int warmup, int iters) {
        int n = c.worldSize();
        long elems = bytes / 4;
        try (Communicator comm = Communicators.create(c);
                NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            if (comm instanceof TcpCommunicator) {
                // a number labelled uds must not silently be TCP (no Unix sockets here), nor vice versa
                ((TcpCommunicator) comm).checkLinks(c.localSockets());
            }
            NDArray a;
            NDArray b;
            switch (op) {
                case "all_reduce":
                    a = m.ones(new Shape(elems), DataType.FLOAT32);
                    b = null;
                    break;
                case "all_gather":
                    a = m.ones(new Shape(elems / n), DataType.FLOAT32);
                    b = m.zeros(new Shape(elems), DataType.FLOAT32);
                    break;
                case "reduce_scatter":
                    a = m.ones(new Shape(elems), DataType.FLOAT32);
                    b = m.zeros(new Shape(elems / n), DataType.FLOAT32);
                    break;
                case "all_to_all":
                    a = m.ones(new Shape(elems), DataType.FLOAT32);
                    b = m.zeros(new Shape(elems), DataType.FLOAT32);
                    break;
                default:
                    throw new IllegalArgumentException("unknown op " + op);
            }
            long start = 0;
            for (int i = 0; i < warmup + iters; i++) {
                if (i == warmup) {
                    comm.barrier().await();
                    start = System.nanoTime();
                }
                switch (op) {
                    case "all_reduce":
                        comm.allReduce(a, ReduceOp.SUM).await();
                        break;
                    case "all_gather":
                        comm.allGather(a, b).await();
                        break;
                    case "reduce_scatter":
                        comm.reduceScatter(a, b, ReduceOp.SUM).await();
                        break;
                    default:
                        comm.allToAll(a, b).await();
                }
            }
            return (System.nanoTime() - start) / 1e6 / iters;
        }
    }
}
