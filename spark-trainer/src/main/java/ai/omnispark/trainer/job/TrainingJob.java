package ai.omnispark.trainer.job;

import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.spark.OmniTrainer;
import java.io.PrintStream;
import org.apache.spark.sql.SparkSession;

/** A whole training run on one rank: model, data, loop, metrics and the final HF export. */
public final class TrainingJob {
    private TrainingJob() {}

    /**
     * Trains through a Spark barrier stage: on the cluster of {@code spark-submit} when a master is
     * configured, otherwise in Spark local mode with {@code train.world_size} ranks (default 2).
     * Raw {@code data.train_path} is prepared first when its manifest is missing or stale.
     */
    public static TrainSummary run(Settings settings, PrintStream out) throws Exception {
        SparkSession spark = session(settings);
        try {
            Settings prepared = DataPreparation.ensurePrepared(spark, settings, out);
            return OmniTrainer.create(prepared).console(out).fit(spark);
        } finally {
            if (System.getProperty("spark.master") == null) {
                spark.stop();
            }
        }
    }

    /** The session of spark-submit, or a local one sized to the world (the embedded default). */
    public static SparkSession session(Settings settings) {
        if (System.getProperty("spark.master") != null) {
            return SparkSession.builder().appName("omnispark").getOrCreate();
        }
        int world = settings.intValue("train.world_size");
        int slots = world > 0 ? world : 2;
        return SparkSession.builder().appName("omnispark").master("local[" + slots + "]")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", String.valueOf(slots))
                .getOrCreate();
    }
}
