package ai.omnispark.parallel.comm;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Creates a rank's communicator for the transport its config asks for. */
public final class Communicators {
    private Communicators() {}

    /** Blocks until every rank has joined (or the timeout passes). */
    public static Communicator create(CommConfig config) {
        switch (config.transport()) {
            case IN_PROCESS:
                return InProcessCommunicator.create(config);
            case TCP:
                return TcpCommunicator.create(TcpRendezvous.connect(config), config);
            case AUTO:
            default:
                return createAuto(config);
        }
    }

    /**
     * In-process only if every address names one host and, as the rendezvous reveals, every rank
     * runs in this JVM; every rank sees every other rank's JVM id, so all reach the same verdict.
     */
    private static Communicator createAuto(CommConfig config) {
        if (config.worldSize() == 1 || !oneHost(config.peers())) {
            return config.worldSize() == 1 ? InProcessCommunicator.create(config)
                    : TcpCommunicator.create(TcpRendezvous.connect(config), config);
        }
        TcpLinks links = TcpRendezvous.connect(config);
        if (links.allInThisJvm()) {
            links.close();
            return InProcessCommunicator.create(config);
        }
        return TcpCommunicator.create(links, config);
    }

    private static boolean oneHost(List<String> peers) {
        Set<String> hosts = new HashSet<>();
        for (String p : peers) {
            hosts.add(TcpRendezvous.parse(p).getHostString());
        }
        return hosts.size() == 1;
    }

    /** Which transport {@link #create} chose for a communicator (for logs and benchmarks). */
    public static Transport transportOf(Communicator c) {
        if (c instanceof InProcessCommunicator) {
            return Transport.IN_PROCESS;
        }
        if (c instanceof TcpCommunicator) {
            return Transport.TCP;
        }
        return Transport.AUTO;
    }
}
