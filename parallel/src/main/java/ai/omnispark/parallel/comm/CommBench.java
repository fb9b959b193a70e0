package ai.omnispark.parallel.comm;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Times collectives of float32 buffers with every rank a thread of this JVM (over loopback
 * sockets for TCP) and prints one JSON line per case, with bus bandwidth as nccl-tests defines it:
 * all-reduce moves 2(n-1)/n of the buffer per rank, all-gather, reduce-scatter and all-to-all
 * (n-1)/n. {@code bytes} is the all-reduce buffer, the all-gather output, the reduce-scatter
 * input and the all-to-all buffer.
 *
 * <pre>
 * CommBench [--transport tcp|inproc] [--world 2,4] [--ops all_reduce,all_gather,reduce_scatter,all_to_all]
 *           [--sizes 64M] [--warmup 2] [--iters 5] [--chunk 1M]
 * </pre>
 */
public final class CommBench {
    private CommBench() {}

    public static void main(String[] args) throws Exception {
        String transport = "tcp";
        String worlds = "2,4";
        String ops = "all_reduce,all_gather,reduce_scatter";
        String sizes = "64M";
        int warmup = 2;
        int iters = 5;
        int chunk = CommConfig.DEFAULT_CHUNK_BYTES;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--transport":
                    transport = args[i + 1];
                    break;
                case "--world":
                    worlds = args[i + 1];
                    break;
                case "--ops":
                case "--op":
                    ops = args[i + 1];
                    break;
                case "--sizes":
                    sizes = args[i + 1];
                    break;
                case "--warmup":
                    warmup = Integer.parseInt(args[i + 1]);
                    break;
                case "--iters":
                    iters = Integer.parseInt(args[i + 1]);
                    break;
                case "--chunk":
                    chunk = (int) parseSize(args[i + 1]);
                    break;
                default:
                    throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Transport t = transport.startsWith("in") ? Transport.IN_PROCESS : Transport.TCP;
        for (String w : worlds.split(",")) {
            for (String op : ops.split(",")) {
                for (String s : sizes.split(",")) {
                    long bytes = parseSize(s);
                    double ms = run(t, Integer.parseInt(w.trim()), op.trim(), bytes, warmup, iters, chunk);
                    int n = Integer.parseInt(w.trim());
                    double factor = op.trim().equals("all_reduce") ? 2.0 * (n - 1) / n : (double) (n - 1) / n;
                    double algbw = bytes / (ms * 1e6);
                    System.out.println(String.format(Locale.ROOT,
                            "{\"op\":\"%s\",\"transport\":\"%s\",\"world\":%d,\"bytes\":%d,\"ms\":%.3f,"
                                    + "\"algbw_gbps\":%.3f,\"bus_gbps\":%.3f}",
                            op.trim(), t == Transport.TCP ? "tcp" : "inproc", n, bytes, ms, algbw,
                            algbw * factor));
                }
            }
        }
    }

    static long parseSize(String s) {
        s = s.trim().toUpperCase(Locale.ROOT);
        long mult = 1;
        if (s.endsWith("K")) {
            mult = 1L << 10;
        } else if (s.endsWith("M")) {
            mult = 1L << 20;
        } else if (s.endsWith("G")) {
            mult = 1L << 30;
        }
        if (mult > 1) {
            s = s.substring(0, s.length() - 1);
        }
        return Long.parseLong(s) * mult;
    }

    /** Mean milliseconds per op, the slowest rank's. */
    static double run(Transport transport, int world, String op, long bytes, int warmup, int iters,
            int chunk)
            throws Exception {
        List<String> peers = transport == Transport.TCP ? FreePorts.loopback(world) : List.of();
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<Double>> fs = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                CommConfig c = CommConfig.builder().rank(r).worldSize(world).peers(peers)
                        .secret(secret).transport(transport).timeout(Duration.ofSeconds(120))
                        .chunkBytes(chunk).build();
                fs.add(pool.submit(() -> rank(c, op, bytes, warmup, iters)));
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
            NDArray a;
            NDArray b;
            switch (op) {
                case "all_reduce":
                    a = m.ones(new Shape(elems), DataType.FLOAT32);
                    b = null;
                    break;
                case "all_gather":
                    a = m.ones(new Shape(elems / n), DataType.FLOAT32);
                    b = m.zeros(new Shape(elems / n * n), DataType.FLOAT32);
                    break;
                case "reduce_scatter":
                    a = m.ones(new Shape(elems / n * n), DataType.FLOAT32);
                    b = m.zeros(new Shape(elems / n), DataType.FLOAT32);
                    break;
                case "all_to_all":
                    a = m.ones(new Shape(elems / n * n), DataType.FLOAT32);
                    b = m.zeros(new Shape(elems / n * n), DataType.FLOAT32);
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
