package ai.omnispark.parallel.comm;

/**
 * What {@code bench comm --transport} names: a {@link Transport} plus whether same-host links may
 * be Unix sockets. "tcp" keeps them off so that its numbers stay real loopback TCP.
 */
enum BenchTransport {
    TCP("tcp", Transport.TCP, false),
    UDS("uds", Transport.TCP, true),
    INPROC("inproc", Transport.IN_PROCESS, false);

    final String label;
    final Transport transport;
    final boolean localSockets;

    BenchTransport(String label, Transport transport, boolean localSockets) {
        this.label = label;
        this.transport = transport;
        this.localSockets = localSockets;
    }
}
