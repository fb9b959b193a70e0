package ai.omnispark.parallel.comm;

import java.util.Locale;

/**
 * One measured case as nccl-tests reports it: algorithm bandwidth is bytes / time, bus bandwidth
 * scales it by how much of the buffer each rank must move, so that bus bandwidth compares with
 * link speed whatever the op and world: 2(n-1)/n for all-reduce (a reduce-scatter then an
 * all-gather), (n-1)/n for all-gather, reduce-scatter and all-to-all. GB is 10^9 bytes.
 */
final class CommBenchResult {
    final String transport;
    final int world;
    final String op;
    final long bytes;
    final double timeMs;

    CommBenchResult(String transport, int world, String op, long bytes, double timeMs) {
        this.transport = transport;
        this.world = world;
        this.op = op;
        this.bytes = bytes;
        this.timeMs = timeMs;
    }

    static double busFactor(String op, int world) {
        double f = (double) (world - 1) / world;
        return op.equals("all_reduce") ? 2 * f : f;
    }

    double algbwGBps() {
        return bytes / (timeMs * 1e-3) / 1e9;
    }

    double busbwGBps() {
        return algbwGBps() * busFactor(op, world);
    }

    /** The JSON line; the gloo peer (bench/peers/gloo_comm.py) prints the same keys in this order. */
    String json() {
        return String.format(Locale.ROOT,
                "{\"transport\":\"%s\",\"world\":%d,\"op\":\"%s\",\"bytes\":%d,\"time_ms\":%.3f,"
                        + "\"algbw_GBps\":%.4f,\"busbw_GBps\":%.4f}",
                transport, world, op, bytes, timeMs, algbwGBps(), busbwGBps());
    }
}
