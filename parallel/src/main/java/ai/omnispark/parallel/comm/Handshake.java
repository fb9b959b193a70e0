package ai.omnispark.parallel.comm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Mutual HMAC-SHA256 challenge-response on a fresh connection. Each side sends a random nonce and
 * proves knowledge of the job secret by a MAC over both nonces, the launch attempt, its rank, its
 * JVM id and a role label (so one side's proof cannot be replayed as the other's); the secret never
 * crosses the wire. The attempt is sent in the clear too, so a peer of another attempt (a straggler
 * of a failed launch) is refused with a message that says so, and authenticated, so it cannot lie.
 *
 * <pre>
 * connector -> acceptor : "OSC2" | world | attempt | nonceC
 * acceptor  -> connector: nonceA | rankA | jvmA | HMAC("acc"|world|attempt|rankA|jvmA|nonceC|nonceA)
 * connector -> acceptor : rankC | jvmC | HMAC("con"|world|attempt|rankC|jvmC|nonceA|nonceC)
 * acceptor  -> connector: 1 (accepted)
 * </pre>
 */
final class Handshake {
    private static final int MAGIC = 0x4f534332; // "OSC2"
    private static final int NONCE = 32;
    private static final int MAC = 32;
    private static final int JVM = 16;

    private final byte[] secret;
    private final int worldSize;
    private final int attempt;
    private final SecureRandom random = new SecureRandom();

    Handshake(byte[] secret, int worldSize, int attempt) {
        this.secret = secret.clone();
        this.worldSize = worldSize;
        this.attempt = attempt;
    }

    /** The authenticated peer: its rank and JVM id. */
    static final class Peer {
        final int rank;
        final byte[] jvmId;

        Peer(int rank, byte[] jvmId) {
            this.rank = rank;
            this.jvmId = jvmId;
        }
    }

    /** Runs the connector's side against the rank expected at the address. */
    Peer connect(SocketChannel ch, int myRank, int expectedRank, long deadline) throws IOException {
        byte[] nonceC = nonce();
        ByteBuffer hello = ByteBuffer.allocate(12 + NONCE).putInt(MAGIC).putInt(worldSize).putInt(attempt).put(nonceC);
        Io.writeFully(ch, hello.flip(), deadline);

        ByteBuffer reply = ByteBuffer.allocate(NONCE + 4 + JVM + MAC);
        Io.readFully(ch, reply, deadline);
        reply.flip();
        byte[] nonceA = take(reply, NONCE);
        int rankA = reply.getInt();
        byte[] jvmA = take(reply, JVM);
        byte[] macA = take(reply, MAC);
        if (!MessageDigest.isEqual(macA, mac("acc", rankA, jvmA, nonceC, nonceA))) {
            throw new IOException("the listener failed authentication (wrong or missing job secret)");
        }
        if (rankA != expectedRank) {
            throw new IOException("the listener is rank " + rankA + ", expected " + expectedRank);
        }
        byte[] jvmC = JvmId.get();
        ByteBuffer proof = ByteBuffer.allocate(4 + JVM + MAC).putInt(myRank).put(jvmC)
                .put(mac("con", myRank, jvmC, nonceA, nonceC));
        Io.writeFully(ch, proof.flip(), deadline);
        ByteBuffer ok = ByteBuffer.allocate(1);
        Io.readFully(ch, ok, deadline);
        if (ok.get(0) != 1) {
            throw new IOException("the listener refused this rank");
        }
        return new Peer(rankA, jvmA);
    }

    /**
     * Runs the acceptor's side; returns the authenticated peer, whose rank the caller still has
     * to check, or throws if the other side does not know the secret.
     */
    Peer accept(SocketChannel ch, int myRank, long deadline) throws IOException {
        ByteBuffer hello = ByteBuffer.allocate(12 + NONCE);
        Io.readFully(ch, hello, deadline);
        hello.flip();
        int magic = hello.getInt();
        int world = hello.getInt();
        int theirAttempt = hello.getInt();
        if (magic != MAGIC) {
            throw new IOException("not an OmniSpark comm connection (bad magic)");
        }
        if (world != worldSize) {
            throw new IOException("peer believes the world size is " + world + ", not " + worldSize);
        }
        if (theirAttempt != attempt) {
            throw new IOException("peer is of launch attempt " + (theirAttempt + 1) + ", this rank of attempt "
                    + (attempt + 1));
        }
        byte[] nonceC = take(hello, NONCE);
        byte[] nonceA = nonce();
        byte[] jvmA = JvmId.get();
        ByteBuffer reply = ByteBuffer.allocate(NONCE + 4 + JVM + MAC).put(nonceA).putInt(myRank)
                .put(jvmA).put(mac("acc", myRank, jvmA, nonceC, nonceA));
        Io.writeFully(ch, reply.flip(), deadline);

        ByteBuffer proof = ByteBuffer.allocate(4 + JVM + MAC);
        Io.readFully(ch, proof, deadline);
        proof.flip();
        int rankC = proof.getInt();
        byte[] jvmC = take(proof, JVM);
        byte[] macC = take(proof, MAC);
        if (!MessageDigest.isEqual(macC, mac("con", rankC, jvmC, nonceA, nonceC))) {
            throw new IOException("authentication failed (wrong or missing job secret)");
        }
        return new Peer(rankC, jvmC);
    }

    /** Tells an authenticated connector it has joined. */
    static void admit(SocketChannel ch, long deadline) throws IOException {
        Io.writeFully(ch, ByteBuffer.wrap(new byte[] {1}), deadline);
    }

    private byte[] nonce() {
        byte[] n = new byte[NONCE];
        random.nextBytes(n);
        return n;
    }

    private byte[] mac(String role, int rank, byte[] jvm, byte[] first, byte[] second) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(new SecretKeySpec(secret, "HmacSHA256"));
            m.update(role.getBytes(StandardCharsets.US_ASCII));
            m.update(ByteBuffer.allocate(12).putInt(worldSize).putInt(attempt).putInt(rank).array());
            m.update(jvm);
            m.update(first);
            m.update(second);
            return m.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    private static byte[] take(ByteBuffer b, int n) {
        byte[] out = new byte[n];
        b.get(out);
        return out;
    }
}
