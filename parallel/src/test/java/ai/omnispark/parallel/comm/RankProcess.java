package ai.omnispark.parallel.comm;

import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * One TCP rank in its own JVM, for tests that kill or freeze a whole process. Joins, prints
 * "ready" after its first all-reduce and then all-reduces until it fails or is killed.
 *
 * <p>args: rank worldSize host:port,host:port,... secretHex timeoutMillis [localSockets]
 */
public final class RankProcess {
    private RankProcess() {}

    public static void main(String[] args) {
        CommConfig c = CommConfig.builder().rank(Integer.parseInt(args[0]))
                .worldSize(Integer.parseInt(args[1])).peers(Arrays.asList(args[2].split(",")))
                .secret(HexFormat.of().parseHex(args[3]))
                .timeout(Duration.ofMillis(Long.parseLong(args[4]))).transport(Transport.TCP)
                .localSockets(args.length > 5 && Boolean.parseBoolean(args[5])).build();
        ByteBuffer buf = ByteBuffer.allocateDirect(4 << 20).order(ByteOrder.nativeOrder());
        try (Communicator comm = Communicators.create(c)) {
            for (long i = 0; ; i++) {
                comm.allReduce(buf, DataType.FLOAT32, ReduceOp.SUM).await();
                if (i == 0) {
                    System.out.println("ready");
                    System.out.flush();
                }
            }
        } catch (CommException e) {
            System.out.println("failed: " + e.getMessage());
            System.exit(3);
        }
    }
}
