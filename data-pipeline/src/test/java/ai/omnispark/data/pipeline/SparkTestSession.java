package ai.omnispark.data.pipeline;

import org.apache.spark.sql.SparkSession;

/** The small local session the pipeline tests share within a class. */
final class SparkTestSession {
    private SparkTestSession() {}

    static SparkSession start(String name) {
        return SparkSession.builder()
                .appName(name)
                .master("local[2]")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.driver.host", "127.0.0.1")
                .getOrCreate();
    }
}
