package ai.omnispark.trainer.job;

import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.Communicators;
import ai.omnispark.parallel.comm.FreePorts;
import ai.omnispark.parallel.comm.Transport;
import ai.omnispark.trainer.config.CommOptions;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.config.TrainSection;
import ai.omnispark.trainer.loop.StepListener;
import ai.omnispark.trainer.profile.ProfileFiles;
import java.io.PrintStream;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.conf.Configuration;

/**
 * Runs a job's ranks as threads of this JVM, joined over loopback TCP or in-process: the reference
 * the Spark runs are compared with, and the harness of the tests and benchmarks.
 */
public final class LocalLauncher {
    private LocalLauncher() {}

    /** Runs every rank to the end; returns rank 0's summary or rethrows the first rank's failure. */
    public static TrainSummary run(Settings requested, StepListener listener, PrintStream out, int attempt)
            throws Exception {
        // Without a cluster there are no task slots to count: 0 (all slots) means one rank here.
        Settings settings = JobConfig.from(requested).train().worldSize() > 0 ? requested
                : requested.with("train.world_size", 1);
        TrainSection train = JobConfig.from(settings).train();
        int world = train.worldSize();
        int cores = Runtime.getRuntime().availableProcessors();
        int configured = train.threads();
        int threads = configured > 0 ? configured : Math.max(1, cores / Math.max(1, world));
        DataPreparation.checkSampleLayout(settings, new Configuration());
        ProfileFiles.prepare(settings, new Configuration());
        List<TrainSummary> summaries = onRanks(world, CommOptions.from(train), (rank, comm) -> RankJob.run(settings,
                new RankJob.Env(rank, world, comm, threads, listener, new Configuration(), attempt), out));
        ProfileFiles.merge(settings, new Configuration(), world, out);
        return summaries.get(0);
    }

    /** A failure caused by another rank's: a collective that found it gone, a save it failed. */
    private static boolean isEcho(Exception e) {
        return e instanceof ai.omnispark.parallel.comm.CommException
                || e instanceof ai.omnispark.parallel.checkpoint.Checkpointer.PeerFailedException;
    }

    /** What one rank does once its communicator is open (null in a world of one). */
    @FunctionalInterface
    public interface RankTask<T> {
        T run(int rank, Communicator comm) throws Exception;
    }

    /**
     * Runs {@code task} on {@code world} ranks, threads of this JVM joined by a communicator as
     * {@code options} say (a TCP transport means sockets on loopback, Unix domain ones if
     * {@code localSockets}; anything else is in-process); one rank runs on the calling thread
     * without one. Returns the results by
     * rank, or throws the root failure.
     */
    public static <T> List<T> onRanks(int world, CommOptions options, RankTask<T> task)
            throws Exception {
        if (world == 1) {
            return List.of(task.run(0, null));
        }
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        boolean sockets = options.sockets();
        List<String> peers = sockets ? FreePorts.loopback(world) : List.of();
        ExecutorService pool = Executors.newFixedThreadPool(world, r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<T>> ranks = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                ranks.add(pool.submit(() -> {
                    Thread.currentThread().setName("omnispark-rank-" + rank);
                    CommConfig comm = options.applyTo(CommConfig.builder()).rank(rank).worldSize(world)
                            .secret(secret).peers(peers)
                            .transport(sockets ? Transport.TCP : Transport.IN_PROCESS).build();
                    try (Communicator c = Communicators.create(comm)) {
                        return task.run(rank, c);
                    }
                }));
            }
            List<T> results = new ArrayList<>();
            Exception first = null;
            List<Exception> all = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                try {
                    results.add(ranks.get(r).get());
                } catch (ExecutionException e) {
                    // A failing rank makes its peers fail on their next collective or save: report the
                    // root cause, the first failure that is not such an echo.
                    Exception cause = e.getCause() instanceof Exception ex ? ex : e;
                    all.add(cause);
                    if (first == null || (!isEcho(cause) && isEcho(first))) {
                        first = cause;
                    }
                }
            }
            if (first != null) {
                for (Exception other : all) {
                    if (other != first) {
                        first.addSuppressed(other);
                    }
                }
                throw first;
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }
}
