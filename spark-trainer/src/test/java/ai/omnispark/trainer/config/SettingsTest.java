package ai.omnispark.trainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SettingsTest {
    private static Map<String, Object> base() {
        return Map.of(
                "model", Map.of("config_path", "conf/models/tiny-qwen3.json"),
                "data", Map.of("train_path", "synthetic://text", "max_seq_len", 64),
                "train", Map.of("global_batch_size", 8, "micro_batch_size", 2, "lr", 0.01));
    }

    private static String error(Object tree, List<String> sets) {
        return assertThrows(ConfigException.class,
                () -> TrainConfig.from(Settings.fromTree(tree, sets, "test.yaml"), 2)).getMessage();
    }

    @Test
    void readsValuesDefaultsAndOverrides() {
        Settings s = Settings.fromTree(base(), List.of("train.max_steps=7", "train.lr=2e-3"), "test.yaml");
        TrainConfig c = TrainConfig.from(s, 2);
        assertEquals(7, c.maxSteps());
        assertEquals(2e-3, c.lr(), 0);
        assertEquals(64, c.maxSeqLen());
        assertEquals(2, c.accumulationSteps());
        assertEquals("runs/default", c.outputDir());
    }

    @Test
    void unknownKeyIsNamed() {
        String msg = error(Map.of("train", Map.of("learning_rate", 1)), List.of());
        assertTrue(msg.contains("train.learning_rate") && msg.contains("train.lr"), msg);
        msg = error(Map.of("trainer", Map.of()), List.of());
        assertTrue(msg.contains("trainer"), msg);
    }

    @Test
    void wrongTypeIsNamed() {
        String msg = error(base(), List.of("train.max_steps=many"));
        assertTrue(msg.contains("train.max_steps") && msg.contains("integer"), msg);
    }

    @Test
    void impossibleValuesAreNamed() {
        String msg = error(base(), List.of("train.global_batch_size=6"));
        assertTrue(msg.contains("train.global_batch_size") && msg.contains("micro_batch_size"), msg);
        msg = error(base(), List.of("train.lr=-1"));
        assertTrue(msg.contains("train.lr"), msg);
        msg = error(base(), List.of("train.lr_decay_style=step"));
        assertTrue(msg.contains("train.lr_decay_style"), msg);
        msg = error(base(), List.of("model.model_path=/x"));
        assertTrue(msg.contains("model.config_path") && msg.contains("model.model_path"), msg);
        msg = error(base(), List.of("data.max_seq_len=0"));
        assertTrue(msg.contains("data.max_seq_len"), msg);
    }

    @Test
    void commOptionsReachTheCommConfigAndBadOnesAreNamed() {
        Settings s = Settings.fromTree(base(), List.of("train.comm_transport=tcp",
                "train.comm_tcp_congestion=cubic", "train.comm_timeout_s=7"), "test.yaml");
        ai.omnispark.parallel.comm.CommConfig c = CommOptions.from(s)
                .applyTo(ai.omnispark.parallel.comm.CommConfig.builder()).rank(0).worldSize(1)
                .secret(new byte[] {1}).peers(List.of("127.0.0.1:1")).build();
        assertEquals("cubic", c.tcpCongestion());
        assertEquals(ai.omnispark.parallel.comm.Transport.TCP, c.transport());
        assertFalse(c.localSockets());
        assertEquals(java.time.Duration.ofSeconds(7), c.timeout());
        assertEquals("auto", CommOptions.from(Settings.fromTree(base(), List.of(), "test.yaml")).tcpCongestion());
        for (String bad : new String[] {"Reno", "no such", ""}) {
            String msg = assertThrows(ConfigException.class, () -> ParallelPlan.from(Settings.fromTree(base(),
                    List.of("train.world_size=2", "train.comm_tcp_congestion=" + bad), "test.yaml"))).getMessage();
            assertTrue(msg.contains("train.comm_tcp_congestion") && msg.contains("'" + bad + "'"), msg);
        }
    }

    private static ParallelPlan plan(Object tree, String... sets) {
        return ParallelPlan.from(Settings.fromTree(tree, List.of(sets), "test.yaml"));
    }

    /** VeOmni's nested train.accelerator keys and the flat ones resolve to the same plan; the sizes multiply to the world. */
    @Test
    void ulyssesAndExpertSizesComeFromEitherSpellingAndDivideTheWorld() {
        Map<String, Object> nested = new java.util.HashMap<>(base());
        nested.put("train", Map.of("global_batch_size", 8, "micro_batch_size", 2, "world_size", 8,
                "accelerator", Map.of("ulysses_size", 2, "ep_size", 2)));
        ParallelPlan p = plan(nested);
        assertEquals(2, p.spSize());
        assertEquals(2, p.epSize());
        assertEquals(2, p.shardSize(), "8 ranks / (sp 2 x ep 2) = 2 data shards");
        ParallelPlan flat = plan(base(), "train.world_size=8", "train.ulysses_parallel_size=2",
                "train.expert_parallel_size=2");
        assertEquals(p, flat);
        ParallelPlan none = plan(base(), "train.world_size=4");
        assertEquals(1, none.spSize());
        assertEquals(1, none.epSize());
        assertEquals(4, none.shardSize());

        String msg = assertThrows(ConfigException.class, () -> plan(nested, "train.ulysses_parallel_size=4"))
                .getMessage();
        assertTrue(msg.contains("train.accelerator.ulysses_size") && msg.contains("train.ulysses_parallel_size"), msg);
        msg = assertThrows(ConfigException.class, () -> plan(base(), "train.world_size=6",
                "train.expert_parallel_size=4")).getMessage();
        assertTrue(msg.contains("train.world_size (6)") && msg.contains("expert-parallel size (4)"), msg);
        msg = assertThrows(ConfigException.class, () -> plan(base(), "train.world_size=4",
                "train.data_parallel_mode=ddp", "train.ulysses_parallel_size=2")).getMessage();
        assertTrue(msg.contains("ddp") && msg.contains("fsdp"), msg);
        msg = assertThrows(ConfigException.class, () -> plan(base(), "train.world_size=4",
                "train.expert_parallel_size=2", "train.data_parallel_shard_size=4")).getMessage();
        assertTrue(msg.contains("must equal train.world_size (4)"), msg);
    }
}
