package ai.omnispark.trainer.job;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The last line a training run prints: {@code {"event":"train_end", ...}}. */
public record TrainSummary(long steps, double initialLoss, double finalLoss, double tokensPerSecond,
        double dataWaitFraction, String outputDir, String hfDir, int worldSize, int restarts) {

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
        o.put("world_size", worldSize);
        o.put("restarts", restarts);
        return o.toString();
    }
}
