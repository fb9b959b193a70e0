package ai.omnispark.trainer.config;

import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Transport;
import java.time.Duration;

/**
 * The {@code train.comm_*} settings, as every launcher hands them to a rank's {@link CommConfig}:
 * the launchers add only who the rank is and where its peers are.
 */
public record CommOptions(CommTransport transport, Duration timeout, String tcpCongestion) {

    public static CommOptions from(Settings s) {
        return from(JobConfig.from(s).train());
    }

    public static CommOptions from(TrainSection train) {
        return new CommOptions(train.commTransport(), Duration.ofSeconds(train.commTimeoutS()),
                train.commTcpCongestion());
    }

    /** Ranks that are threads of one JVM joined in-process (benchmarks of everything but sockets). */
    public static CommOptions inProcess(Duration timeout) {
        return new CommOptions(CommTransport.IN_PROCESS, timeout, "auto");
    }

    /** Whether the ranks talk over sockets (unix or tcp), not in-process or as auto decides. */
    public boolean sockets() {
        return transport.transport() == Transport.TCP;
    }

    public CommConfig.Builder applyTo(CommConfig.Builder b) {
        return b.transport(transport.transport()).localSockets(transport.localSockets()).timeout(timeout)
                .tcpCongestion(tcpCongestion);
    }
}
