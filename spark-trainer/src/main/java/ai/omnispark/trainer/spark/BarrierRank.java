package ai.omnispark.trainer.spark;

import ai.djl.Device;
import ai.omnispark.parallel.checkpoint.Checkpointer;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.CommException;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.Communicators;
import ai.omnispark.parallel.comm.FreePorts;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.RankJob;
import ai.omnispark.trainer.job.TrainSummary;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.Serializable;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.deploy.SparkHadoopUtil;
import org.apache.spark.resource.ResourceInformation;
import scala.collection.Iterator;
import scala.collection.JavaConverters;
import scala.runtime.AbstractFunction1;

/**
 * The body of one barrier task: it finds its peers, opens the communicator and hands over to
 * {@link RankJob}. Nothing else happens on the Spark side of a rank. A static class, not a lambda:
 * Java lambdas are not serializable Scala functions.
 *
 * <p>A rank's own failure is thrown as a {@link RankFailure}; one caused by a peer's (a collective
 * that found the peer gone, a checkpoint another rank failed to write) as a {@link CommException}, so the driver can report the cause
 * rather than its echo. Once Spark cancels the task (its stage failed elsewhere), a watchdog closes
 * the communicator, so a rank blocked in a collective or about to start one ends at once instead of
 * running on beside the next attempt.
 */
final class BarrierRank extends AbstractFunction1<Iterator<Integer>, Iterator<String>> implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final long WATCHDOG_MS = 200;

    private final Settings settings;
    private final byte[] secret;
    private final byte[] progressToken;
    private final String driverHost;
    private final int progressPort;
    private final int driverAttempt;
    private final String attemptId;

    /**
     * @param secret this attempt's communicator secret
     * @param progressToken this attempt's token on the driver's progress channel
     * @param attemptId the id {@link ai.omnispark.parallel.checkpoint.AttemptFence} holds for this attempt
     */
    BarrierRank(Settings settings, byte[] secret, byte[] progressToken, String driverHost, int progressPort,
            int driverAttempt, String attemptId) {
        this.settings = settings;
        this.secret = secret.clone();
        this.progressToken = progressToken.clone();
        this.driverHost = driverHost;
        this.progressPort = progressPort;
        this.driverAttempt = driverAttempt;
        this.attemptId = attemptId;
    }

    @Override
    public Iterator<String> apply(Iterator<Integer> ignored) {
        BarrierTaskContext ctx = BarrierTaskContext.get();
        int rank = ctx.partitionId();
        int world = ctx.getTaskInfos().length;
        int attempt = driverAttempt + ctx.stageAttemptNumber();
        // Spark reran this stage itself (possible for a barrier ShuffleMapStage): like a relaunch by
        // the driver, it resumes from the latest checkpoint.
        Settings run = ctx.stageAttemptNumber() > 0 ? settings.with("train.load_checkpoint_path", "auto") : settings;
        try {
            return JavaConverters.asScalaIterator(List.of(train(ctx, run, rank, world, attempt)).iterator());
        } catch (CommException e) {
            throw e;
        } catch (Exception e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof CommException c) {
                    throw new CommException("training", rank, c.peer(), e.toString(), e);
                }
                if (t instanceof Checkpointer.PeerFailedException) {
                    throw new CommException("checkpoint", rank, -1, e.toString(), e);
                }
            }
            throw new RankFailure(rank, world, attempt, e);
        }
    }

    private String train(BarrierTaskContext ctx, Settings run, int rank, int world, int attempt) throws IOException {
        String host = hostOf(ctx.getTaskInfos()[rank].address());
        int port = FreePorts.on(host);
        String[] peers = ctx.allGather(host + ":" + port);
        CommConfig config = ai.omnispark.trainer.config.CommOptions.from(run)
                .applyTo(CommConfig.builder()).rank(rank).worldSize(world).peers(List.of(peers))
                .secret(secret).attempt(attempt).build();
        int configured = JobConfig.from(run).train().threads();
        int threads = configured > 0 ? configured : Math.max(1, ctx.cpus());
        Device device = gpu(ctx);
        // The driver's launch, not Spark's stage attempt, is what the progress server knows.
        ProgressSender sender = rank == 0 ? new ProgressSender(driverHost, progressPort, driverAttempt, progressToken)
                : null;
        TrainSummary s;
        // The communicator closes last: peers learn of this rank's failure only after everything else
        // here is done, so this task's own exception reaches Spark before Spark cancels it for theirs
        // (a cancelled task's exception is reported as "killed", without its message).
        try (Communicator comm = Communicators.create(config); Watchdog ignored = new Watchdog(ctx, comm)) {
            try {
                PrintStream console = sender != null ? sender.console()
                        : new PrintStream(OutputStream.nullOutputStream());
                if (sender != null && attempt > 0) {
                    console.println("attempt " + (attempt + 1) + ": resuming from the latest checkpoint");
                }
                s = RankJob.run(run, new RankJob.Env(rank, world, comm, threads, sender,
                        SparkHadoopUtil.get().newConfiguration(SparkEnv.get().conf()), attempt, device, attemptId),
                        console);
            } finally {
                if (sender != null) {
                    sender.close();
                }
            }
        }
        if (sender == null) {
            return "";
        }
        return s.withProgressDropped(sender.dropped()).toJsonLine();
    }

    /** Closes the communicator once Spark has cancelled the task. */
    private static final class Watchdog implements AutoCloseable {
        private final Thread thread;
        private volatile boolean done;

        Watchdog(BarrierTaskContext ctx, Communicator comm) {
            thread = new Thread(() -> {
                while (!done) {
                    if (ctx.isInterrupted()) {
                        comm.close();
                        return;
                    }
                    try {
                        Thread.sleep(WATCHDOG_MS);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "omnispark-cancel-watchdog");
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void close() {
            done = true;
            thread.interrupt();
        }
    }

    /** The GPU Spark assigned to this task, or the CPU when none was. */
    private static Device gpu(BarrierTaskContext ctx) {
        ResourceInformation gpu = ctx.resourcesJMap().get("gpu");
        if (gpu == null || gpu.addresses().length == 0) {
            return Device.cpu();
        }
        return Device.gpu(Integer.parseInt(gpu.addresses()[0]));
    }

    static String hostOf(String address) {
        int colon = address.lastIndexOf(':');
        return colon > 0 ? address.substring(0, colon) : address;
    }
}
