package ai.omnispark.trainer.cli;

import ai.omnispark.trainer.config.Settings;

/**
 * How the planner takes one measurement of a config as it is ({@link BenchParallel#measureAsConfigured}):
 * in this JVM ({@link #IN_PROCESS}) or in a JVM of its own ({@link ForkedMeasurement}).
 */
@FunctionalInterface
interface Measurement {
    Measurement IN_PROCESS = BenchParallel::measureAsConfigured;

    /** @param latent (C, F, H, W) of synthetic latent rows for a latent family; null: the config's data */
    BenchParallel.Measured take(Settings settings, int steps, int warmup, int threads, int[] latent) throws Exception;
}
