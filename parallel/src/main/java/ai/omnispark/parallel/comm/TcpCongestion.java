package ai.omnispark.parallel.comm;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.ptr.IntByReference;
import java.io.IOException;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TCP congestion control of the collective links (Linux: {@code setsockopt(TCP_CONGESTION)}
 * through libc, by JNA, which DJL already brings).
 *
 * <p>Why: on loopback there is no network to pace or probe, yet a paced algorithm still pays for
 * it per byte. With BBR (this machine's default) a loopback stream cost 0.65-0.80 CPU-s per GB,
 * with Reno 0.42-0.57 (1 MiB and 256 KiB writes, 4 MiB buffers, C test), and the 64 MiB 4-rank
 * all-reduce ran ~1.3x faster. {@link #AUTO} therefore picks Reno for links whose peer is on
 * this host (a loopback address or one of this host's own, which the kernel also routes over
 * loopback) and leaves other links to the system's choice, which is the operator's call for
 * their fabric. A named algorithm applies to every TCP link; {@link #SYSTEM} touches none.
 * Reno is built into every kernel and allowed for unprivileged processes.
 */
final class TcpCongestion {
    private static final Logger LOG = LoggerFactory.getLogger(TcpCongestion.class);
    static final String AUTO = "auto";
    static final String SYSTEM = "system";
    private static final String LOOPBACK_CHOICE = "reno";
    private static final Pattern NAME = Pattern.compile("[a-z0-9_]{1,15}");
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_CONGESTION = 13;
    private static final int EPERM = 1;
    private static final int ENOENT = 2;

    /** For links to this host; null: leave the system's choice. */
    private final String loopback;
    private final String remote;

    private TcpCongestion(String loopback, String remote) {
        this.loopback = loopback;
        this.remote = remote;
    }

    /** Whether {@code setting} is auto, system or a possible algorithm name. */
    static boolean isValidSetting(String setting) {
        return setting != null && NAME.matcher(setting).matches();
    }

    /**
     * Checks the setting once on an unconnected socket, so that a named algorithm this host does
     * not have or allow fails the rendezvous with the reason, and auto quietly becomes system
     * where it cannot work (not Linux, no JNA, no access to the socket's descriptor).
     *
     * @return the policy, or throws IllegalStateException naming the problem for a named algorithm
     */
    static TcpCongestion resolve(String setting) {
        if (SYSTEM.equals(setting)) {
            return new TcpCongestion(null, null);
        }
        String wanted = AUTO.equals(setting) ? LOOPBACK_CHOICE : setting;
        String problem;
        try (SocketChannel probe = SocketChannel.open()) {
            set(probe, wanted);
            problem = null;
        } catch (IOException | RuntimeException | LinkageError e) {
            problem = describe(wanted, e);
        }
        if (problem == null) {
            return AUTO.equals(setting) ? new TcpCongestion(wanted, null) : new TcpCongestion(wanted, wanted);
        }
        if (AUTO.equals(setting)) {
            LOG.info("TCP links to this host keep the system's congestion control: {}", problem);
            return new TcpCongestion(null, null);
        }
        throw new IllegalStateException(problem);
    }

    /** Applies the policy to a connected TCP channel. */
    void apply(SocketChannel ch) throws IOException {
        // An address of this host is routed over the loopback device too, not only 127.0.0.0/8.
        String name = LocalSockets.isThisHost((InetSocketAddress) ch.getRemoteAddress()) ? loopback : remote;
        if (name != null) {
            try {
                set(ch, name);
            } catch (RuntimeException e) {
                throw new IOException(describe(name, e), e);
            }
        }
    }

    /** The algorithm the kernel runs on this channel (tests and logs). */
    static String current(SocketChannel ch) {
        byte[] value = new byte[16];
        IntByReference length = new IntByReference(value.length);
        libc().getsockopt(fd(ch), IPPROTO_TCP, TCP_CONGESTION, value, length);
        int n = 0;
        while (n < length.getValue() && value[n] != 0) {
            n++;
        }
        return new String(value, 0, n, StandardCharsets.US_ASCII);
    }

    private static void set(SocketChannel ch, String name) {
        byte[] value = name.getBytes(StandardCharsets.US_ASCII);
        libc().setsockopt(fd(ch), IPPROTO_TCP, TCP_CONGESTION, value, value.length);
    }

    private static String describe(String name, Throwable e) {
        String why;
        if (e instanceof LastErrorException && ((LastErrorException) e).getErrorCode() == ENOENT) {
            why = "this kernel does not have it (see /proc/sys/net/ipv4/tcp_available_congestion_control)";
        } else if (e instanceof LastErrorException && ((LastErrorException) e).getErrorCode() == EPERM) {
            why = "unprivileged processes may not use it (see net.ipv4.tcp_allowed_congestion_control)";
        } else {
            why = e.toString();
        }
        return "cannot set TCP congestion control '" + name + "': " + why;
    }

    private static int fd(SocketChannel ch) {
        try {
            Method m = Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal");
            m.setAccessible(true); // needs --add-opens java.base/sun.nio.ch, which Spark needs too
            return (Integer) m.invoke(ch);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("no access to the socket's descriptor ("
                    + "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED missing?): " + e, e);
        }
    }

    private static LibC libc() {
        if (!Platform.isLinux()) {
            throw new UnsupportedOperationException("per-socket congestion control is Linux only");
        }
        return LibCHolder.LIBC;
    }

    /** libc's socket options; loaded on first use. */
    interface LibC extends Library {
        int setsockopt(int fd, int level, int name, byte[] value, int length) throws LastErrorException;

        int getsockopt(int fd, int level, int name, byte[] value, IntByReference length)
                throws LastErrorException;
    }

    private static final class LibCHolder {
        static final LibC LIBC = Native.load("c", LibC.class);
    }
}
