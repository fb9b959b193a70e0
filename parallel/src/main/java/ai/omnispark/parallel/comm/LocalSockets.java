package ai.omnispark.parallel.comm;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;

/**
 * Unix domain sockets for ranks on the same host: they skip the kernel's TCP/IP path (segments,
 * acks, wakeups), which was most of the CPU of a loopback all-reduce. Every rank derives the path
 * a peer listens on from the config alone: a per-job directory named by a hash of the secret (the
 * secret itself never appears) holding one socket per rank address. The files exist only while
 * their rank rendezvous; the handshake still authenticates every connection.
 */
final class LocalSockets {
    /** sun_path is 108 bytes on Linux, 104 on macOS; stay below both with the NUL. */
    private static final int MAX_PATH_BYTES = 100;
    private static final Set<PosixFilePermission> OWNER_ONLY_DIR =
            PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> OWNER_ONLY_FILE =
            PosixFilePermissions.fromString("rw-------");

    private LocalSockets() {}

    /**
     * Where the rank at {@code addr} listens, or null if the path would be too long for a socket.
     * The host is in the name because ranks on one host may share a port on different addresses.
     */
    static Path path(Path tmpDir, byte[] secret, InetSocketAddress addr) {
        String dir = "omnispark-" + hash("omnispark comm dir", secret, 6);
        String file = addr.getPort() + "-"
                + hash("host", addr.getHostString().getBytes(StandardCharsets.UTF_8), 3) + ".sock";
        Path p = tmpDir.resolve(dir).resolve(file).toAbsolutePath();
        return p.toString().getBytes(StandardCharsets.UTF_8).length <= MAX_PATH_BYTES ? p : null;
    }

    static Path tmpDir() {
        return Path.of(System.getProperty("java.io.tmpdir"));
    }

    /** Whether {@code addr} names this machine: loopback, wildcard or a local interface's address. */
    static boolean isThisHost(InetSocketAddress addr) {
        InetAddress a = addr.getAddress();
        if (a == null) {
            return false; // unresolved: cannot be ours
        }
        if (a.isLoopbackAddress() || a.isAnyLocalAddress()) {
            return true;
        }
        try {
            return NetworkInterface.getByInetAddress(a) != null;
        } catch (SocketException e) {
            return false;
        }
    }

    /**
     * Listens on {@code path} in a directory only this user can enter, replacing a stale file left
     * by a killed rank; a file that still answers is left alone (another job with this secret and
     * address, whose TCP port this rank will fail to bind anyway).
     */
    static ServerSocketChannel listen(Path path, int backlog) throws IOException {
        IOException last = null;
        // another rank of the job may remove the shared directory between our mkdir and bind
        for (int attempt = 0; attempt < 3; attempt++) {
            privateDir(path.getParent());
            if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
                if (answers(path)) {
                    throw new IOException(path + " is in use by another process");
                }
                Files.deleteIfExists(path);
            }
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            boolean bound = false;
            try {
                server.bind(UnixDomainSocketAddress.of(path), backlog);
                bound = true;
                restrict(path, OWNER_ONLY_FILE);
                return server;
            } catch (IOException e) {
                TcpRendezvous.closeQuietly(server);
                if (bound) {
                    remove(path);
                }
                last = e;
            }
        }
        throw last;
    }

    private static boolean answers(Path path) {
        try (SocketChannel probe = connect(path, 1_000)) {
            return true;
        } catch (IOException e) {
            return false; // refused: nobody listens, the file is stale
        }
    }

    /** Deletes the socket file and, when the job's last one is gone, its directory. */
    static void remove(Path path) {
        try {
            Files.deleteIfExists(path);
            Files.deleteIfExists(path.getParent());
        } catch (DirectoryNotEmptyException othersStillListening) {
            // the last rank to finish removes it
        } catch (IOException ignored) {
            // nothing more to release; a stale file is replaced on the next bind
        }
    }

    /**
     * Connects within {@code millis}; non-blocking because a blocking connect to a full Unix
     * backlog waits without limit.
     */
    static SocketChannel connect(Path path, long millis) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try (Selector sel = Selector.open()) {
            ch.configureBlocking(false);
            if (!ch.connect(UnixDomainSocketAddress.of(path))) {
                ch.register(sel, SelectionKey.OP_CONNECT);
                long deadline = System.nanoTime() + millis * 1_000_000;
                while (!ch.finishConnect()) {
                    long left = (deadline - System.nanoTime()) / 1_000_000;
                    if (left <= 0) {
                        throw new IOException("connect to " + path + " timed out");
                    }
                    sel.select(left);
                }
            }
            return ch; // still non-blocking, as the handshake and the links use it
        } catch (IOException | RuntimeException e) {
            TcpRendezvous.closeQuietly(ch);
            throw e;
        }
    }

    private static void privateDir(Path dir) throws IOException {
        PosixFileAttributeView view = Files.getFileAttributeView(dir.getParent(),
                PosixFileAttributeView.class);
        if (view == null) {
            Files.createDirectories(dir); // no POSIX permissions here; the handshake still guards
            return;
        }
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
            restrict(dir, OWNER_ONLY_DIR); // exactly, whatever the umask: the other ranks check it
        } catch (java.nio.file.FileAlreadyExistsException e) {
            // made by another rank of this job, or planted: use it only if nobody else can write it
            PosixFileAttributes attrs = Files.readAttributes(dir, PosixFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS);
            if (!attrs.isDirectory() || !attrs.permissions().equals(OWNER_ONLY_DIR)) {
                throw new IOException(dir + " exists but is not a private directory");
            }
        }
    }

    private static void restrict(Path p, Set<PosixFilePermission> perms) throws IOException {
        try {
            Files.setPosixFilePermissions(p, perms);
        } catch (UnsupportedOperationException notPosix) {
            // the handshake still authenticates every connection
        }
    }

    private static String hash(String label, byte[] data, int bytes) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(label.getBytes(StandardCharsets.US_ASCII));
            d.update((byte) 0);
            d.update(data);
            byte[] h = d.digest();
            return HexFormat.of().formatHex(h, 0, bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 unavailable", e);
        }
    }
}
