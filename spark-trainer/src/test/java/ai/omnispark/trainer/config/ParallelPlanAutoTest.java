package ai.omnispark.trainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ParallelPlanAutoTest {
    private static Settings with(String... sets) {
        List<String> all = new ArrayList<>(List.of("model.config_path=conf/models/tiny-qwen3.json"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    @Test
    void manualIsTheDefaultAndAutoCarriesItsMemory() {
        assertFalse(JobConfig.from(with()).train().autoParallelPlan());
        TrainSection t = JobConfig.from(with("train.parallel_plan=auto", "train.plan_memory_gb=1.5")).train();
        assertTrue(t.autoParallelPlan());
        assertEquals(1.5, t.planMemoryGb());
    }

    @Test
    void badValuesAreRefusedNamingTheKey() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> JobConfig.from(with("train.parallel_plan=fastest")));
        assertEquals("train.parallel_plan must be manual or auto, got 'fastest'", e.getMessage());
        e = assertThrows(ConfigException.class, () -> JobConfig.from(with("train.parallel_plan=auto")));
        assertTrue(e.getMessage().contains("needs train.plan_memory_gb"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> JobConfig.from(with("train.plan_memory_gb=-1")));
        assertTrue(e.getMessage().contains("train.plan_memory_gb must be >= 0"), e.getMessage());
    }

    @Test
    void anUnresolvedAutoPlanIsNotLaunched() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ParallelPlan.from(with("train.parallel_plan=auto", "train.plan_memory_gb=1")));
        assertTrue(e.getMessage().contains("bin/omnispark train resolves at launch"), e.getMessage());
    }
}
