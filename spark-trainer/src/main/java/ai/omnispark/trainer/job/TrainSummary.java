package ai.omnispark.trainer.job;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The last line a training run prints: {@code {"event":"train_end", ...}}.
 *
 * @param hfDir the final HF folder ({@code final_hf}, merged weights for a LoRA run); null when none was written
 * @param adapterDir a LoRA run's final adapter in PEFT format ({@code final_lora}); null without LoRA
 * @param progressDropped progress lines (steps, log lines) rank 0 could not deliver to the driver;
 *     the steps among them are missing from the driver's console and {@code metrics.jsonl}
 */
public record TrainSummary(long steps, double initialLoss, double finalLoss, double tokensPerSecond,
        double dataWaitFraction, String outputDir, String hfDir, String adapterDir, int worldSize, int restarts,
        long progressDropped) {

    public TrainSummary(long steps, double initialLoss, double finalLoss, double tokensPerSecond,
            double dataWaitFraction, String outputDir, String hfDir, String adapterDir, int worldSize, int restarts) {
        this(steps, initialLoss, finalLoss, tokensPerSecond, dataWaitFraction, outputDir, hfDir, adapterDir, worldSize,
                restarts, 0);
    }

    /** This summary, saying that {@code lines} progress lines were dropped. */
    public TrainSummary withProgressDropped(long lines) {
        return new TrainSummary(steps, initialLoss, finalLoss, tokensPerSecond, dataWaitFraction, outputDir, hfDir,
                adapterDir, worldSize, restarts, lines);
    }

    public String toJsonLine() {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("event", "train_end");
        o.put("steps", steps);
        o.put("initial_loss", initialLoss);
        o.put("final_loss", finalLoss);
        o.put("tokens_per_s", tokensPerSecond);
        o.put("data_wait_fraction", dataWaitFraction);
        o.put("output_dir", outputDir);
        if (hfDir == null) {
            o.putNull("hf_dir");
        } else {
            o.put("hf_dir", hfDir);
        }
        if (adapterDir == null) {
            o.putNull("adapter_dir");
        } else {
            o.put("adapter_dir", adapterDir);
        }
        o.put("world_size", worldSize);
        o.put("restarts", restarts);
        o.put("progress_dropped", progressDropped);
        return o.toString();
    }
}
