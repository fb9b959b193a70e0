package ai.omnispark.trainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.FrozenParts;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Transport;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class JobConfigTest {
    /** Non-default values of the keys whose values are words, each allowed by its parser. */
    private static final Map<String, String> WORDS = Map.of(
            "model.attention_impl", "eager",
            "train.lr_decay_style", "cosine",
            "train.data_parallel_mode", "ddp",
            "train.resume_policy", "allow_changes",
            "train.comm_transport", "unix",
            "train.comm_tcp_congestion", "cubic",
            "train.timestep_weighting", "gaussian",
            "train.parallel_plan", "auto",
            "train.recompute", "roi");

    /**
     * Keys left at their defaults when every other key is overridden: enable_gradient_checkpointing's
     * true is recompute block, which the roi above (the word that makes activation_memory_budget_mb
     * legal) contradicts; RoiRecomputeTest checks the flag and its refusal.
     */
    private static final java.util.Set<String> LEFT_AT_DEFAULT = java.util.Set.of("train.enable_gradient_checkpointing");


    private static JobConfig parse(Object tree, String... sets) {
        return JobConfig.from(Settings.fromTree(tree, List.of(sets), "test.yaml"));
    }

    private static Map<String, Record> sections(JobConfig job) {
        Map<String, Record> m = new LinkedHashMap<>();
        m.put("model", job.model());
        m.put("data", job.data());
        m.put("train", job.train());
        m.put("debug", job.debug());
        return m;
    }

    /** {@code maxSeqLen} -> {@code max_seq_len}: the key a component holds, by the naming rule. */
    private static String snake(String camel) {
        return camel.replaceAll("([A-Z])", "_$1").toLowerCase(Locale.ROOT);
    }

    private static Object component(Record r, RecordComponent c) throws Exception {
        return c.getAccessor().invoke(r);
    }

    /** A component's value as the config spells it (enums lower-case), for comparing with a Key's value. */
    private static Object spelled(Object v) {
        if (v instanceof Enum<?> e) {
            return e.name().toLowerCase(Locale.ROOT);
        }
        if (v instanceof Integer i) {
            return i.longValue();
        }
        return v;
    }

    @Test
    void everyKeyIsOneComponentOfItsSectionAndDefaultsCarryOver() throws Exception {
        JobConfig job = parse(null);
        TreeSet<String> covered = new TreeSet<>();
        for (Map.Entry<String, Record> section : sections(job).entrySet()) {
            for (RecordComponent c : section.getValue().getClass().getRecordComponents()) {
                String name = section.getKey() + "." + snake(c.getName());
                Key key = Keys.get(name);
                assertTrue(key != null, "component " + c.getName() + " of " + section.getKey() + " holds no key " + name);
                assertEquals(key.defaultValue(), spelled(component(section.getValue(), c)), name + " default");
                covered.add(name);
            }
        }
        TreeSet<String> all = new TreeSet<>();
        Keys.ALL.forEach(k -> all.add(k.name()));
        assertEquals(all, covered, "keys without a component");
    }

    @Test
    void everyKeyAndLoraFieldIsDocumentedInConfigMd() throws Exception {
        String doc = java.nio.file.Files.readString(java.nio.file.Path.of("..", "docs", "config.md"));
        for (Key k : Keys.ALL) {
            String section = k.name().substring(0, k.name().indexOf('.'));
            // a row names the key whole, or a grouped row names it without its section after the first
            assertTrue(doc.contains("`" + k.name() + "`") || doc.contains("`" + k.name().substring(section.length() + 1)
                    + "`"), k.name() + " is not in docs/config.md");
            for (Key f : k.fields()) {
                assertTrue(doc.contains("`" + f.name().substring(f.name().lastIndexOf('.') + 1) + "`"), f.name());
            }
        }
    }

    @Test
    void everyKeyOverriddenReachesItsComponentTyped() throws Exception {
        List<String> sets = new ArrayList<>();
        Map<String, Object> expected = new LinkedHashMap<>();
        for (Key k : Keys.ALL) {
            if (LEFT_AT_DEFAULT.contains(k.name())) {
                continue;
            }
            Object want;
            String text;
            if (WORDS.containsKey(k.name())) {
                text = WORDS.get(k.name());
                want = text;
            } else {
                switch (k.type()) {
                    case INT -> {
                        want = (Long) k.defaultValue() + 3;
                        text = want.toString();
                    }
                    case DOUBLE -> {
                        want = (Double) k.defaultValue() + 0.25;
                        text = want.toString();
                    }
                    case BOOL -> {
                        want = !(Boolean) k.defaultValue();
                        text = want.toString();
                    }
                    case STRING -> {
                        want = "v-" + k.name();
                        text = (String) want;
                    }
                    default -> {
                        continue; // the map key has its own tests
                    }
                }
            }
            sets.add(k.name() + "=" + text);
            expected.put(k.name(), want);
        }
        JobConfig job = parse(null, sets.toArray(new String[0]));
        int checked = 0;
        for (Map.Entry<String, Record> section : sections(job).entrySet()) {
            for (RecordComponent c : section.getValue().getClass().getRecordComponents()) {
                String name = section.getKey() + "." + snake(c.getName());
                if (expected.containsKey(name)) {
                    assertEquals(expected.get(name), spelled(component(section.getValue(), c)), name);
                    checked++;
                }
            }
        }
        assertEquals(expected.size(), checked);
    }

    @Test
    void gradientCheckpointingIsTheOlderSpellingOfBlockRecompute() {
        assertEquals(ai.omnispark.parallel.recompute.RecomputeMode.NONE, parse(null).train().recompute());
        assertEquals(ai.omnispark.parallel.recompute.RecomputeMode.BLOCK,
                parse(null, "train.enable_gradient_checkpointing=true").train().recompute());
        assertEquals(ai.omnispark.parallel.recompute.RecomputeMode.BLOCK,
                parse(null, "train.recompute=block").train().recompute());
    }

    @Test
    void wrongTypesAndBadWordsAreNamed() {
        String[][] cases = {
            {"train.world_size=two", "train.world_size must be an integer, got 'two'"},
            {"train.lr=fast", "train.lr must be a number"},
            {"train.async_save=yes", "train.async_save must be true or false"},
            {"train.data_parallel_mode=zero", "train.data_parallel_mode must be fsdp, ddp or none, got 'zero'"},
            {"train.comm_transport=udp", "train.comm_transport must be auto, in_process, unix or tcp, got 'udp'"},
            {"train.resume_policy=sometimes", "train.resume_policy is 'sometimes'; use strict or allow_changes"},
            {"model.attention_impl=flash", "model.attention_impl must be auto, sdpa, chunked or eager, got 'flash'"},
            {"model.loss_chunk_tokens=-1", "model.loss_chunk_tokens must be >= 0"},
            {"train.lora_lr=-0.1", "train.lora_lr must be >= 0"},
            {"train.timestep_weighting=cosine", "train.timestep_weighting must be none or gaussian, got 'cosine'"},
            {"train.text_dropout=1.5", "train.text_dropout must be in [0, 1)"},
            {"train.flow_shift=0", "train.flow_shift must be a finite number > 0"},
        };
        for (String[] c : cases) {
            String msg = assertThrows(ConfigException.class, () -> parse(null, c[0])).getMessage();
            assertTrue(msg.contains(c[1]), c[0] + ": " + msg);
        }
    }

    @Test
    void unknownKeysOutsideTheMapNameTheKeyAndTheSectionsKeys() {
        String msg = assertThrows(ConfigException.class,
                () -> parse(Map.of("model", Map.of("lora_cfg", Map.of("rank", 4))))).getMessage();
        assertTrue(msg.contains("model.lora_cfg") && msg.contains("model.lora_config")
                && msg.contains("model.attention_impl"), msg);
        msg = assertThrows(ConfigException.class, () -> parse(null, "debug.fail_at")).getMessage();
        assertTrue(msg.contains("--set takes key=value"), msg);
        msg = assertThrows(ConfigException.class, () -> parse(null, "debug.fail_at=3")).getMessage();
        assertTrue(msg.contains("debug.fail_at'") && msg.contains("debug.fail_at_step"), msg);
    }

    private static Map<String, Object> lora(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return Map.of("model", Map.of("lora_config", m));
    }

    /** The freeze flags reach the model options; only those set enter the fingerprint, so older checkpoints match. */
    @Test
    void freezeFlagsReachTheFrozenPartsAndTheFingerprintOnlyWhenSet() {
        ModelSection none = parse(null).model();
        assertEquals(FrozenParts.NONE, none.frozenParts());
        assertTrue(Fingerprints.of(none).keySet().stream().noneMatch(k -> k.startsWith("model.freeze_")),
                Fingerprints.of(none).toString());
        ModelSection some = parse(null, "model.freeze_vision_tower=true", "model.freeze_language_model=true").model();
        assertEquals(new FrozenParts(true, false, true), some.frozenParts());
        assertEquals("true", Fingerprints.of(some).get("model.freeze_vision_tower"));
        assertEquals("true", Fingerprints.of(some).get("model.freeze_language_model"));
        assertNull(Fingerprints.of(some).get("model.freeze_merger"));
        ModelSection all = parse(null, "model.freeze_vision_tower=true", "model.freeze_merger=true",
                "model.freeze_language_model=true").model();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, all::frozenParts);
        assertTrue(e.getMessage().contains("nothing would train"), e.getMessage());
    }

    @Test
    void loraConfigParsesFromYamlWithDropoutDefaultingToZero() {
        assertNull(parse(null).model().loraConfig(), "absent = no LoRA");
        LoraConfig c = parse(lora("rank", 8, "alpha", 16, "lora_modules", List.of("q_proj", "v_proj")))
                .model().loraConfig();
        assertEquals(new LoraConfig(8, 16.0, 0.0, List.of("q_proj", "v_proj")), c);
        assertEquals(2.0, c.scale(), 0);
        c = parse(lora("rank", 4, "alpha", 1.5, "dropout", 0.1, "lora_modules", List.of("gate_proj"))).model()
                .loraConfig();
        assertEquals(new LoraConfig(4, 1.5, 0.1, List.of("gate_proj")), c);
    }

    @Test
    void loraConfigFieldsCanBeSetOneByOneAndTheMapRemoved() {
        Object yaml = lora("rank", 8, "alpha", 16, "lora_modules", List.of("q_proj"));
        assertEquals(new LoraConfig(4, 16.0, 0.0, List.of("q_proj")),
                parse(yaml, "model.lora_config.rank=4").model().loraConfig(), "--set keeps the YAML's other fields");
        assertEquals(new LoraConfig(2, 4.0, 0.05, List.of("q_proj", "o_proj")),
                parse(null, "model.lora_config.rank=2", "model.lora_config.alpha=4",
                        "model.lora_config.dropout=0.05", "model.lora_config.lora_modules=q_proj,o_proj")
                        .model().loraConfig(), "a whole map from --set alone");
        assertNull(parse(yaml, "model.lora_config=").model().loraConfig());
        Settings s = Settings.fromTree(yaml, List.of(), "test.yaml").with("model.lora_config.alpha", 32);
        assertEquals(new LoraConfig(8, 32.0, 0.0, List.of("q_proj")), JobConfig.from(s).model().loraConfig());
    }

    @Test
    void aMisspeltKeyInsideLoraConfigIsNamedWithTheFourValidOnes() {
        String four = "model.lora_config.rank, model.lora_config.alpha, model.lora_config.dropout, "
                + "model.lora_config.lora_modules";
        String msg = assertThrows(ConfigException.class, () -> parse(lora("rank", 8, "alpha", 16, "lora_modules",
                List.of("q_proj"), "target_modules", List.of("q_proj")))).getMessage();
        assertTrue(msg.contains("unknown key 'model.lora_config.target_modules'") && msg.contains(four)
                && msg.startsWith("test.yaml"), msg);
        msg = assertThrows(ConfigException.class, () -> parse(null, "model.lora_config.rnak=4")).getMessage();
        assertTrue(msg.contains("'model.lora_config.rnak'") && msg.contains(four), msg);
    }

    @Test
    void badLoraValuesAreNamed() {
        String[][] cases = {
            {"model.lora_config.rank=four", "model.lora_config.rank must be an integer"},
            {"model.lora_config.rank=0", "model.lora_config.rank must be > 0"},
            {"model.lora_config.alpha=-1", "model.lora_config.alpha must be > 0"},
            {"model.lora_config.dropout=1", "model.lora_config.dropout must be in [0, 1)"},
        };
        for (String[] c : cases) {
            String msg = assertThrows(ConfigException.class, () -> parse(lora("rank", 8, "alpha", 16,
                    "lora_modules", List.of("q_proj")), c[0])).getMessage();
            assertTrue(msg.contains(c[1]), c[0] + ": " + msg);
        }
        String msg = assertThrows(ConfigException.class, () -> parse(lora("rank", 8, "alpha", 16))).getMessage();
        assertTrue(msg.contains("model.lora_config.lora_modules is required"), msg);
        msg = assertThrows(ConfigException.class, () -> parse(Map.of("model", Map.of("lora_config", 8))))
                .getMessage();
        assertTrue(msg.contains("model.lora_config must be a map with the keys model.lora_config.rank"), msg);
    }

    @Test
    void loraLrFallsBackToLr() {
        assertEquals(2e-3, parse(null, "train.lr=2e-3").train().effectiveLoraLr(), 0);
        assertEquals(5e-4, parse(null, "train.lr=2e-3", "train.lora_lr=5e-4").train().effectiveLoraLr(), 0);
    }

    @Test
    void settingsWithLoraSurviveJavaSerialisationAsSparkShipsThem() throws Exception {
        Settings s = Settings.fromTree(lora("rank", 8, "alpha", 16, "lora_modules", List.of("q_proj", "k_proj")),
                List.of("train.lora_lr=1e-4", "train.comm_transport=tcp"), "test.yaml");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(s);
        }
        Settings back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            back = (Settings) in.readObject();
        }
        assertEquals(s.asMap(), back.asMap());
        assertEquals(JobConfig.from(s), JobConfig.from(back));
        assertEquals(new LoraConfig(2, 16.0, 0.0, List.of("q_proj", "k_proj")),
                JobConfig.from(back.with("model.lora_config.rank", 2)).model().loraConfig());
    }

    @Test
    void commTransportIsOneEnumThatTheCommConfigFollows() {
        // value -> the comm layer's transport and whether same-host ranks use Unix domain sockets
        Object[][] table = {
            {"auto", CommTransport.AUTO, Transport.AUTO, true},
            {"in_process", CommTransport.IN_PROCESS, Transport.IN_PROCESS, true},
            {"unix", CommTransport.UNIX, Transport.TCP, true},
            {"tcp", CommTransport.TCP, Transport.TCP, false},
        };
        for (Object[] row : table) {
            TrainSection t = parse(null, "train.comm_transport=" + row[0]).train();
            assertEquals(row[1], t.commTransport(), (String) row[0]);
            CommConfig c = CommOptions.from(t).applyTo(CommConfig.builder()).rank(0).worldSize(1)
                    .secret(new byte[] {1}).peers(List.of("127.0.0.1:1")).build();
            assertEquals(row[2], c.transport(), (String) row[0]);
            assertEquals(row[3], c.localSockets(), (String) row[0]);
            assertEquals(row[2] == Transport.TCP, CommOptions.from(t).sockets(), (String) row[0]);
        }
    }
}
