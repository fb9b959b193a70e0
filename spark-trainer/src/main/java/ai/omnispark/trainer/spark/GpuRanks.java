package ai.omnispark.trainer.spark;

import ai.omnispark.trainer.config.ConfigException;
import org.apache.spark.SparkConf;

/**
 * What training on GPUs supports today: one rank. Ranks exchange tensors through the CPU
 * transports, which refuse CUDA tensors, and the NCCL transport is a placeholder, so a run whose
 * ranks would each get a GPU is refused at the driver instead of failing at its first collective.
 */
final class GpuRanks {
    static final String TASK_GPUS = "spark.task.resource.gpu.amount";

    private GpuRanks() {}

    /** Refuses {@code world} > 1 ranks when {@code conf} gives every task a GPU (or a share of one). */
    static void check(SparkConf conf, int world) {
        String amount = conf.get(TASK_GPUS, "0");
        if (world > 1 && Double.parseDouble(amount) > 0) {
            throw new ConfigException(TASK_GPUS + "=" + amount + " puts each of the " + world + " ranks on a GPU, "
                    + "but collectives between GPU ranks need the NCCL transport, which is not implemented yet "
                    + "(the CPU transports refuse CUDA tensors): train on one GPU with train.world_size=1, "
                    + "or on CPUs without " + TASK_GPUS);
        }
    }
}
