package ai.omnispark.trainer.spark;

import ai.djl.Device;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.Communicators;
import ai.omnispark.parallel.comm.FreePorts;
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
 */
final class BarrierRank extends AbstractFunction1<Iterator<Integer>, Iterator<String>> implements Serializable {
    private static final long serialVersionUID = 1L;

    private final Settings settings;
    private final byte[] secret;
    private final String driverHost;
    private final int progressPort;
    private final int driverAttempt;

    BarrierRank(Settings settings, byte[] secret, String driverHost, int progressPort, int driverAttempt) {
        this.settings = settings;
        this.secret = secret.clone();
        this.driverHost = driverHost;
        this.progressPort = progressPort;
        this.driverAttempt = driverAttempt;
    }

    @Override
    public Iterator<String> apply(Iterator<Integer> ignored) {
        BarrierTaskContext ctx = BarrierTaskContext.get();
        int rank = ctx.partitionId();
        int world = ctx.getTaskInfos().length;
        int attempt = driverAttempt + ctx.stageAttemptNumber();
        try {
            String host = hostOf(ctx.getTaskInfos()[rank].address());
            int port = FreePorts.on(host);
            String[] peers = ctx.allGather(host + ":" + port);
            CommConfig config = ai.omnispark.trainer.config.CommOptions.from(settings)
                    .applyTo(CommConfig.builder()).rank(rank).worldSize(world).peers(List.of(peers))
                    .secret(secret).build();
            int threads = settings.intValue("train.threads") > 0 ? settings.intValue("train.threads")
                    : Math.max(1, ctx.cpus());
            Device device = gpu(ctx);
            try (Communicator comm = Communicators.create(config);
                    ProgressSender sender = rank == 0 ? new ProgressSender(driverHost, progressPort, secret) : null) {
                PrintStream console = sender != null ? sender.console() : new PrintStream(OutputStream.nullOutputStream());
                if (sender != null && attempt > 0) {
                    console.println("attempt " + (attempt + 1) + ": resuming from the latest checkpoint");
                }
                TrainSummary s = RankJob.run(settings, new RankJob.Env(rank, world, comm, threads, sender,
                        SparkHadoopUtil.get().newConfiguration(SparkEnv.get().conf()), attempt, device), console);
                return JavaConverters.asScalaIterator(List.of(rank == 0 ? s.toJsonLine() : "").iterator());
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("rank " + rank + " of " + world + ": " + e.getMessage(), e);
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
