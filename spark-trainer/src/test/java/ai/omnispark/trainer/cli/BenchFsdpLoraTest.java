package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench fsdp} on a LoRA config through {@code Main}: the state per rank it prints, and its
 * comparison with the full fine-tune, against bytes counted by hand from the model's units: a full
 * fine-tune keeps 4 fp32 values per parameter (weight, gradient, two AdamW moments); LoRA keeps one
 * for a frozen base parameter and 4 for an adapter parameter, each split evenly over the ranks.
 */
class BenchFsdpLoraTest {
    @TempDir
    Path tmp;

    @Test
    void loraStatePerRankAndTheFullFineTuneComparisonMatchTheHandCount() throws Exception {
        Path modelConfig = TinyModel.write(tmp, true);
        LoraConfig lora = new LoraConfig(4, 8, 0, List.of("q_proj", "down_proj"));
        Path yaml = tmp.resolve("lora.yaml");
        Files.writeString(yaml, """
                model:
                  config_path: %s
                  lora_config: {rank: 4, alpha: 8, dropout: 0.0, lora_modules: [q_proj, down_proj]}
                data:
                  train_path: synthetic://text
                  data_type: plaintext
                  max_seq_len: 64
                train:
                  output_dir: %s
                  global_batch_size: 2
                  micro_batch_size: 1
                  max_steps: 10
                """.formatted(modelConfig, tmp.resolve("out")));
        long base = 0;
        long adapters = 0;
        try (Model model = ModelFamilies.load(modelConfig, new ModelOptions("auto", 0, lora))) {
            var adapterUnits = ai.omnispark.models.hf.HfCheckpoint.adapterUnits(model).values();
            for (UnitLayout u : model.units()) {
                if (adapterUnits.contains(u)) {
                    adapters += u.numel();
                } else {
                    base += u.numel();
                }
            }
        }
        assertTrue(adapters > 0 && base > 0);

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int code = MainAccess.run(new String[] {"bench", "fsdp", "--config", yaml.toString(), "--world", "1,2",
                "--steps", "1", "--warmup", "0", "--threads", "1"}, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, text);
        List<JsonNode> lines = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("{")) {
                lines.add(new ObjectMapper().readTree(line));
            }
        }
        JsonNode world1 = lines.get(0);
        JsonNode world2 = lines.get(1);
        JsonNode comparison = lines.get(lines.size() - 1);
        long lora1 = 4 * (base + 4 * adapters);
        assertEquals(1, world1.get("world").asInt());
        assertTrue(world1.get("lora").asBoolean());
        assertEquals(lora1, world1.get("state_bytes_per_rank").asLong(), text);
        assertEquals(lora1 / 2, world2.get("state_bytes_per_rank").asLong(), text);

        JsonNode full = comparison.get("full_finetune");
        long fullBytes = 4 * 4 * base;
        assertEquals(1, full.get("world").asInt());
        assertEquals(fullBytes, full.get("state_bytes_per_rank").asLong(), text);
        assertTrue(full.get("step_ms").asDouble() > 0);
        JsonNode ratios = comparison.get("lora_vs_full_finetune");
        assertEquals(2, ratios.size());
        assertEquals((double) lora1 / fullBytes, ratios.get(0).get("state_bytes_per_rank_ratio").asDouble(), 1e-12);
        assertEquals((double) lora1 / 2 / fullBytes, ratios.get(1).get("state_bytes_per_rank_ratio").asDouble(), 1e-12);
        assertEquals(world1.get("step_ms").asDouble() / full.get("step_ms").asDouble(),
                ratios.get(0).get("step_ms_ratio").asDouble(), 1e-12);
    }

    @Test
    void aMissingBaseModelSaysWhichRunWritesIt() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int code = MainAccess.run(new String[] {"bench", "fsdp", "--config",
                Path.of("..", "conf", "examples", "tiny-llm-lora.yaml").toString(), "--world", "1",
                "--set", "model.model_path=" + tmp.resolve("no-such-run")}, new PrintStream(bytes, true,
                StandardCharsets.UTF_8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, text);
        assertTrue(text.contains("is not a HF model folder") && text.contains("bin/omnispark train "
                + "conf/examples/tiny-llm.yaml"), text);
    }
}
