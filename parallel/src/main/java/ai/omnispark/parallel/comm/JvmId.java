package ai.omnispark.parallel.comm;

import java.security.SecureRandom;

/**
 * A random identity of this JVM, exchanged during TCP rendezvous so that AUTO can tell whether
 * every rank is a thread of the same process. Immutable after class initialisation.
 */
final class JvmId {
    private static final byte[] ID = new SecureRandom().generateSeed(16);

    private JvmId() {}

    static byte[] get() {
        return ID.clone();
    }
}
