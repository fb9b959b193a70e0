package ai.omnispark.trainer.cli;

import ai.omnispark.models.api.Parallelize;
import ai.omnispark.parallel.fsdp.ShardGroup;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.trainer.config.CommOptions;
import ai.omnispark.trainer.config.ParallelPlan;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.config.TrainConfig;
import ai.omnispark.trainer.data.InMemoryRows;
import ai.omnispark.trainer.job.LocalLauncher;
import ai.omnispark.trainer.job.RankAssembly;
import ai.omnispark.trainer.job.TrainingData;
import ai.omnispark.trainer.loop.DataParallel;
import ai.omnispark.trainer.loop.Trainer;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The benches' training ranks: threads of this JVM over the in-process transport (the numbers
 * measure the parallel layout, not a socket), each with the mesh the settings' {@link ParallelPlan}
 * lays out, its model, store and trainer built as a training rank builds them ({@link RankAssembly})
 * and the synthetic or raw text of {@code data.train_path} in memory.
 */
final class BenchRanks {
    /** How long a collective may wait for a peer. */
    static final Duration TIMEOUT = Duration.ofMinutes(10);

    private BenchRanks() {}

    /** What one rank measures once its trainer is built. */
    @FunctionalInterface
    interface Body<T> {
        T run(RankContext rank, RankAssembly assembly, Trainer trainer, DataParallel dataParallel) throws Exception;
    }

    /**
     * Runs {@code body} on every rank of {@code settings}' plan; returns the results by rank.
     *
     * @param threadsPerRank intra-op threads of each rank; 0: the machine's cores shared out
     * @param reshardAfterForward FSDP frees gathered weights after a unit's forward
     * @param planView sees each rank's plan before its engine runs it (identity: as trained)
     */
    static <T> List<T> run(Settings settings, int threadsPerRank, boolean reshardAfterForward,
            UnaryOperator<Parallelize.Plan> planView, Body<T> body) throws Exception {
        return run(settings, threadsPerRank, reshardAfterForward, planView, null, body);
    }

    /** As above; {@code samples} non-null: these rows (latent rows for a DiT) instead of data.train_path's text. */
    static <T> List<T> run(Settings settings, int threadsPerRank, boolean reshardAfterForward,
            UnaryOperator<Parallelize.Plan> planView, List<ai.omnispark.models.api.Sample> samples, Body<T> body)
            throws Exception {
        ParallelPlan plan = ParallelPlan.from(settings);
        int world = plan.worldSize();
        // Ulysses ranks share their rows: the batch is split over world / sp data-parallel ranks.
        TrainConfig config = TrainConfig.from(settings, world / plan.spSize());
        int threads = threadsPerRank > 0 ? threadsPerRank
                : Math.max(1, Runtime.getRuntime().availableProcessors() / world);
        return LocalLauncher.onRanks(world, CommOptions.inProcess(TIMEOUT), (rank, comm) -> {
            try (RankContext ctx = RankContext.builder().rank(rank).worldSize(world).threads(threads).build()) {
                ctx.bindThread();
                DeviceMesh mesh = comm == null ? null : plan.mesh(comm);
                ShardGroup group = mesh == null ? null : mesh.dataParallelGroup(ctx.manager());
                DataParallel dp = mesh == null ? DataParallel.single() : DataParallel.over(mesh, group);
                try (DeviceMesh ownedMesh = mesh;
                        RankAssembly assembly = RankAssembly.open(config.job(), ctx, config.seed(), mesh, group,
                                reshardAfterForward)) {
                    InMemoryRows rows = samples != null
                            ? InMemoryRows.ofSamples(samples, config.seed(), dp.rank(), dp.size())
                            : new InMemoryRows(TrainingData.rows(config.job(), TrainingData.tokenizer(config.job())),
                                    config.seed(), dp.rank(), dp.size());
                    Trainer trainer = assembly.train(config, ctx, rows, dp, planView);
                    return body.run(ctx, assembly, trainer, dp);
                }
            }
        });
    }
}
