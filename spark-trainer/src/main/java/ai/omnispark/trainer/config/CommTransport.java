package ai.omnispark.trainer.config;

import ai.omnispark.parallel.comm.Transport;

/**
 * {@code train.comm_transport}, each value with what it means to the comm layer: its
 * {@link Transport} and whether same-host ranks in different JVMs use Unix domain sockets
 * ({@code unix} and {@code tcp} are both the socket transport, told apart by that).
 */
public enum CommTransport {
    AUTO(Transport.AUTO, true),
    IN_PROCESS(Transport.IN_PROCESS, true),
    UNIX(Transport.TCP, true),
    TCP(Transport.TCP, false);

    private final Transport transport;
    private final boolean localSockets;

    CommTransport(Transport transport, boolean localSockets) {
        this.transport = transport;
        this.localSockets = localSockets;
    }

    public Transport transport() {
        return transport;
    }

    public boolean localSockets() {
        return localSockets;
    }

    static CommTransport parse(String value) {
        for (CommTransport t : values()) {
            if (t.name().toLowerCase(java.util.Locale.ROOT).equals(value)) {
                return t;
            }
        }
        throw new ConfigException("train.comm_transport must be auto, in_process, unix or tcp, got '" + value + "'");
    }
}
