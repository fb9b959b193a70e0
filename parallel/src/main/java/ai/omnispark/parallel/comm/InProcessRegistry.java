package ai.omnispark.parallel.comm;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

/**
 * Where the threads of one job in one JVM find each other.
 *
 * <p>This is the comm layer's one static mutable map, and it has to be: ranks that are threads of
 * one JVM (Spark local mode) are handed only their rank, the world size and the job secret, and
 * share no object through which they could meet. Entries are keyed by a hash of the secret (never
 * the secret itself) plus the world size, so concurrent jobs with different secrets never meet,
 * and an entry leaves the map as soon as its last rank has joined, so nothing outlives a job.
 */
final class InProcessRegistry {
    private static final Map<String, Pending> PENDING = new HashMap<>();

    private InProcessRegistry() {}

    /** Blocks until all ranks of the config's job have joined; returns their shared group. */
    static InProcessGroup join(CommConfig config) {
        String key = key(config.secret(), config.worldSize());
        int rank = config.rank();
        long deadline = System.nanoTime() + config.timeout().toNanos();
        synchronized (PENDING) {
            Pending p = PENDING.computeIfAbsent(key,
                    k -> new Pending(new InProcessGroup(config.worldSize(), config.timeout())));
            if (p.joined[rank]) {
                throw new IllegalStateException("rank " + rank + " joined the in-process group of "
                        + "world size " + config.worldSize() + " twice (two jobs sharing a secret?)");
            }
            p.joined[rank] = true;
            if (++p.count == config.worldSize()) {
                PENDING.remove(key);
                PENDING.notifyAll();
                return p.group;
            }
            try {
                while (p.count < config.worldSize() && p.failure == null) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        int missing = 0;
                        while (p.joined[missing]) {
                            missing++;
                        }
                        p.failure = "rank " + rank + " timed out waiting for rank " + missing;
                        PENDING.remove(key);
                        PENDING.notifyAll();
                        throw new CommException("rendezvous", rank, missing,
                                "timed out after " + config.timeout().toMillis()
                                        + " ms waiting for rank " + missing + " to join in-process");
                    }
                    PENDING.wait(Math.max(1, left / 1_000_000));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CommException("rendezvous", rank, -1, "interrupted", e);
            }
            if (p.failure != null) {
                throw new CommException("rendezvous", rank, -1, p.failure);
            }
            return p.group;
        }
    }

    private static String key(byte[] secret, int worldSize) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update("omnispark-inproc".getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(d.digest(secret)) + "/" + worldSize;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final class Pending {
        final InProcessGroup group;
        final boolean[] joined;
        int count;
        String failure;

        Pending(InProcessGroup group) {
            this.group = group;
            this.joined = new boolean[group.size()];
        }
    }
}
