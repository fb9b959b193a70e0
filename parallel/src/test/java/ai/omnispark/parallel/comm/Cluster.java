package ai.omnispark.parallel.comm;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A job of {@code world} ranks as threads of this JVM, over a chosen transport (tests only). */
final class Cluster implements AutoCloseable {
    final int world;
    final Transport transport;
    final Communicator[] comms;
    final NDManager[] managers;
    final List<CommConfig> configs;
    private final ExecutorService threads;

    interface RankBody<T> {
        T run(int rank, Communicator comm, NDManager manager) throws Exception;
    }

    private Cluster(List<CommConfig> configs, Communicator[] comms, ExecutorService threads) {
        this.configs = configs;
        this.world = configs.size();
        this.transport = configs.get(0).transport();
        this.comms = comms;
        this.threads = threads;
        this.managers = new NDManager[world];
        for (int r = 0; r < world; r++) {
            managers[r] = NDManager.newBaseManager(Device.cpu(), "PyTorch");
        }
    }

    /** Same-host links over TCP, as the transport's name says; see the overload for Unix sockets. */
    static Cluster start(Transport transport, int world, Duration timeout, int chunkBytes) {
        return start(transport, world, timeout, chunkBytes, false);
    }

    static Cluster start(Transport transport, int world, Duration timeout, int chunkBytes,
            boolean localSockets) {
        return start(configs(transport, world, timeout, chunkBytes, localSockets));
    }

    /** Starts one rank per config, all at once. */
    static Cluster start(List<CommConfig> configs) {
        int world = configs.size();
        ExecutorService threads = Executors.newFixedThreadPool(world);
        List<Future<Communicator>> made = new ArrayList<>();
        for (CommConfig c : configs) {
            made.add(threads.submit(() -> Communicators.create(c)));
        }
        Communicator[] comms = new Communicator[world];
        try {
            for (int r = 0; r < world; r++) {
                comms[r] = made.get(r).get(30, TimeUnit.SECONDS);
            }
        } catch (InterruptedException | ExecutionException | TimeoutException e) {
            for (Communicator c : comms) {
                if (c != null) {
                    c.close();
                }
            }
            threads.shutdownNow();
            throw new IllegalStateException("cluster did not start", e);
        }
        return new Cluster(configs, comms, threads);
    }

    static List<CommConfig> configs(Transport transport, int world, Duration timeout, int chunkBytes) {
        return configs(transport, world, timeout, chunkBytes, false);
    }

    static List<CommConfig> configs(Transport transport, int world, Duration timeout, int chunkBytes,
            boolean localSockets) {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        List<String> peers = transport == Transport.IN_PROCESS ? List.of() : FreePorts.loopback(world);
        List<CommConfig> out = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            out.add(CommConfig.builder().rank(r).worldSize(world).peers(peers).secret(secret)
                    .timeout(timeout).transport(transport).chunkBytes(chunkBytes)
                    .localSockets(localSockets).build());
        }
        return out;
    }

    /** Runs body on every rank concurrently; returns results in rank order, rethrows the first failure. */
    <T> List<T> run(RankBody<T> body) throws Exception {
        List<Future<T>> fs = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            int rank = r;
            fs.add(threads.submit(() -> body.run(rank, comms[rank], managers[rank])));
        }
        List<T> out = new ArrayList<>();
        for (Future<T> f : fs) {
            try {
                out.add(f.get(60, TimeUnit.SECONDS));
            } catch (ExecutionException e) {
                if (e.getCause() instanceof Exception) {
                    throw (Exception) e.getCause();
                }
                throw e;
            }
        }
        return out;
    }

    @Override
    public void close() {
        for (Communicator c : comms) {
            c.close();
        }
        for (NDManager m : managers) {
            m.close();
        }
        threads.shutdownNow();
    }
}
