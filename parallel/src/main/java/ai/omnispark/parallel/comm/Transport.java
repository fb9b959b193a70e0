package ai.omnispark.parallel.comm;

/** Which transport carries a communicator's bytes. */
public enum Transport {
    /** In-process when every rank is a thread of this JVM, TCP otherwise. */
    AUTO,
    /** Ranks are threads of one JVM and read each other's buffers directly. */
    IN_PROCESS,
    /** NIO sockets, one connection per pair of ranks. */
    TCP
}
