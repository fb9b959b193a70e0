package ai.omnispark.trainer.config;

import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Transport;
import java.time.Duration;

/**
 * The {@code train.comm_*} settings, as every launcher hands them to a rank's {@link CommConfig}:
 * the launchers add only who the rank is and where its peers are.
 */
public record CommOptions(Transport transport, boolean localSockets, Duration timeout, String tcpCongestion) {

    public static CommOptions from(Settings s) {
        String congestion = s.string("train.comm_tcp_congestion");
        if (!CommConfig.isValidTcpCongestion(congestion)) {
            throw new ConfigException("train.comm_tcp_congestion must be auto, system or an algorithm name "
                    + "such as reno or cubic, got '" + congestion + "'");
        }
        return new CommOptions(ParallelPlan.transport(s), ParallelPlan.localSockets(s),
                Duration.ofSeconds(s.integer("train.comm_timeout_s")), congestion);
    }

    /** Ranks that are threads of one JVM joined in-process (benchmarks of everything but sockets). */
    public static CommOptions inProcess(Duration timeout) {
        return new CommOptions(Transport.IN_PROCESS, false, timeout, "auto");
    }

    public CommConfig.Builder applyTo(CommConfig.Builder b) {
        return b.transport(transport).localSockets(localSockets).timeout(timeout).tcpCongestion(tcpCongestion);
    }
}
