package ai.omnispark.trainer.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.ParallelPlan;
import ai.omnispark.trainer.config.Settings;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ResumeConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> BASE = List.of("model.config_path=conf/models/tiny-qwen3.json",
            "data.train_path=synthetic://text", "data.max_seq_len=64", "train.world_size=2");
    /** The keys the hand-written list recorded before the fingerprint came from the records. */
    private static final List<String> HAND_LISTED = List.of("data.train_path", "data.data_type", "data.max_seq_len",
            "data.text_keys", "data.eos_token", "data.pad_token", "model.tokenizer_path", "train.seed",
            "train.global_batch_size");

    private static Settings settings(String... sets) {
        List<String> all = new ArrayList<>(BASE);
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    private static ObjectNode hfConfig(int hidden) {
        return JSON.createObjectNode().put("model_type", "qwen3").put("hidden_size", hidden);
    }

    private static ResumeConfig fingerprint(Settings s) {
        JobConfig job = JobConfig.from(s);
        return ResumeConfig.of(job, hfConfig(8), ParallelPlan.from(job.train()));
    }

    /** What the hand-listed fingerprint recorded for {@code s}: checkpoints written by it must still match. */
    private static Map<String, String> handListed(Settings s) {
        Map<String, String> v = new TreeMap<>();
        v.put("model.config.model_type", "\"qwen3\"");
        v.put("model.config.hidden_size", "8");
        for (String key : HAND_LISTED) {
            v.put(key, s.text(key));
        }
        ParallelPlan plan = ParallelPlan.from(s);
        v.put("train.world_size", Integer.toString(plan.worldSize()));
        v.put("train.data_parallel_mode", plan.mode().name().toLowerCase());
        v.put("train.data_parallel_shard_size", Integer.toString(plan.shardSize()));
        v.put("train.data_parallel_replicate_size", Integer.toString(plan.replicateSize()));
        return v;
    }

    @Test
    void withoutLoraTheRecordsGiveExactlyWhatTheHandListRecorded() {
        for (String[] sets : new String[][] {{}, {"train.data_parallel_mode=ddp", "data.pad_token=<pad>"},
            {"train.world_size=4", "train.data_parallel_replicate_size=2", "train.seed=7"}}) {
            Settings s = settings(sets);
            assertEquals(handListed(s), fingerprint(s).values(), List.of(sets).toString());
        }
    }

    @Test
    void eachFingerprintedChangeIsOneNamedDifference() {
        ObjectNode saved = fingerprint(settings()).toJson(JSON);
        String lora = "model.lora_config.rank=8,model.lora_config.alpha=16,model.lora_config.lora_modules=q_proj";
        String[][] changes = {
            {"data.train_path=/data/other", "data.train_path: synthetic://text -> /data/other"},
            {"data.data_type=conversation", "data.data_type: plaintext -> conversation"},
            {"data.max_seq_len=32", "data.max_seq_len: 64 -> 32"},
            {"data.text_keys=body", "data.text_keys: text -> body"},
            {"data.eos_token=</s>", "data.eos_token: <|endoftext|> -> </s>"},
            {"data.pad_token=<pad>", "data.pad_token:  -> <pad>"},
            {"model.tokenizer_path=/tok.json", "model.tokenizer_path:  -> /tok.json"},
            {"train.seed=1", "train.seed: 42 -> 1"},
            {"train.global_batch_size=16", "train.global_batch_size: 8 -> 16"},
            {"train.world_size=1", "train.world_size: 2 -> 1"},
            {"train.data_parallel_replicate_size=2", "train.data_parallel_shard_size: 2 -> 1"},
            {lora, "model.lora_config: (absent) -> LoraConfig[rank=8, alpha=16.0, dropout=0.0, modules=[q_proj]]"},
        };
        for (String[] change : changes) {
            List<String> diff = fingerprint(settings(change[0].split(",(?=model)"))).differences(saved);
            List<String> named = diff.stream().filter(d -> d.startsWith(change[1].substring(0,
                    change[1].indexOf(':') + 1))).toList();
            assertEquals(List.of(change[1]), named, change[0] + ": " + diff);
            if (!change[0].startsWith("train.data_parallel") && !change[0].startsWith("train.world_size")) {
                assertEquals(1, diff.size(), change[0] + ": " + diff);
            }
        }
        // the model's own config counts field by field
        JobConfig job = JobConfig.from(settings());
        assertEquals(List.of("model.config.hidden_size: 8 -> 16"),
                ResumeConfig.of(job, hfConfig(16), ParallelPlan.from(job.train())).differences(saved));
        // and a LoRA run's own adapter settings do too
        ObjectNode loraSaved = fingerprint(settings(lora.split(","))).toJson(JSON);
        List<String> diff = fingerprint(settings(lora.replace("rank=8", "rank=4").split(","))).differences(loraSaved);
        assertEquals(1, diff.size(), diff.toString());
        assertTrue(diff.get(0).startsWith("model.lora_config: LoraConfig[rank=8") && diff.get(0).contains("-> LoraConfig[rank=4"),
                diff.toString());
    }

    @Test
    void settingsOutsideTheFingerprintChangeNothing() {
        ObjectNode saved = fingerprint(settings()).toJson(JSON);
        for (String change : new String[] {"train.log_steps=5", "train.lr=0.5", "train.output_dir=/elsewhere",
            "train.save_steps=3", "train.max_steps=9", "model.attention_impl=eager", "debug.fail_at_step=2",
            "train.lora_lr=0.1", "train.comm_transport=tcp", "train.resume_policy=allow_changes"}) {
            assertEquals(List.of(), fingerprint(settings(change)).differences(saved), change);
        }
    }
}
