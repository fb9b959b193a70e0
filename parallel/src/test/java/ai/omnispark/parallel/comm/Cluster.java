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
    private final ExecutorService threads;

    interface RankBody<T> {
        T run(int rank, Communicator comm, NDManager manager) throws Exception;
    }

    private Cluster(int world, Transport transport, Communicator[] comms, ExecutorService threads) {
        this.world = world;
        this.transport = transport;
        this.comms = comms;
        this.threads = threads;
        this.managers = new NDManager[world];
        for (int r = 0; r < world; r++) {
            managers[r] = NDManager.newBaseManager(Device.cpu(), "PyTorch");
        }
    }

    static Cluster start(Transport transport, int world, Duration timeout, int chunkBytes) {
        List<CommConfig> configs = configs(transport, world, timeout, chunkBytes);
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
        return new Cluster(world, transport, comms, threads);
    }

    static List<CommConfig> configs(Transport transport, int world, Duration timeout, int chunkBytes) {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        List<String> peers = transport == Transport.IN_PROCESS ? List.of() : FreePorts.loopback(world);
        List<CommConfig> out = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            out.add(CommConfig.builder().rank(r).worldSize(world).peers(peers).secret(secret)
                    .timeout(timeout).transport(transport).chunkBytes(chunkBytes).build());
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
