package ai.omnispark.trainer.spark;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.config.ConfigException;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

class GpuRanksTest {
    private static SparkConf gpus(String amount) {
        SparkConf conf = new SparkConf(false);
        return amount == null ? conf : conf.set(GpuRanks.TASK_GPUS, amount);
    }

    @Test
    void severalRanksOnGpusAreRefusedBeforeLaunch() {
        for (String amount : new String[] {"1", "0.5"}) {
            ConfigException e = assertThrows(ConfigException.class, () -> GpuRanks.check(gpus(amount), 2));
            assertTrue(e.getMessage().contains("spark.task.resource.gpu.amount=" + amount)
                    && e.getMessage().contains("2 ranks") && e.getMessage().contains("NCCL")
                    && e.getMessage().contains("train.world_size=1"), e.getMessage());
        }
    }

    @Test
    void oneGpuRankAndCpuRanksAreAllowed() {
        assertDoesNotThrow(() -> GpuRanks.check(gpus("1"), 1));
        assertDoesNotThrow(() -> GpuRanks.check(gpus(null), 8));
        assertDoesNotThrow(() -> GpuRanks.check(gpus("0"), 8));
    }
}
