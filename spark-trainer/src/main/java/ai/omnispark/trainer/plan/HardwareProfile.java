package ai.omnispark.trainer.plan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A device profile for planning clusters that are not this machine (docs/plan.md, conf/hardware/):
 * dense peak FLOP/s per dtype, memory per device, devices per node, the per-device bandwidth inside
 * a node and between nodes, plus the two efficiencies the planner cannot measure there: the
 * fraction of peak a training step achieves ({@code mfu}) and the fraction of FSDP traffic hidden
 * behind compute ({@code comm_overlap}).
 *
 * @param peakFlops dense (no sparsity) peak FLOP/s per dtype name (bf16, fp16, fp32, tf32, ...)
 * @param trainDtype the dtype the estimate computes and keeps activations in
 */
public record HardwareProfile(String name, Map<String, Double> peakFlops, double memoryBytes, int devicesPerNode,
        double intraNodeBytesPerS, double interNodeBytesPerS, String trainDtype, double mfu, double commOverlap,
        String source) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public HardwareProfile {
        peakFlops = Map.copyOf(peakFlops);
    }

    /** Peak FLOP/s of the training dtype. */
    public double trainPeakFlops() {
        return peakFlops.get(trainDtype);
    }

    /** Bytes per element of the training dtype (activations, gathered weights on the wire). */
    public int trainDtypeBytes() {
        return switch (trainDtype) {
            case "fp32", "tf32" -> 4;
            case "fp8" -> 1;
            default -> 2;
        };
    }

    /** Per-device bandwidth of a group of {@code size} consecutive ranks: inside a node when it fits in one. */
    public double bandwidth(int size) {
        return size <= devicesPerNode ? intraNodeBytesPerS : interNodeBytesPerS;
    }

    public static HardwareProfile load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--hardware: no profile file " + file);
        }
        JsonNode n = JSON.readTree(file.toFile());
        Map<String, Double> peaks = new LinkedHashMap<>();
        JsonNode p = required(n, "peak_flops", file);
        for (Iterator<Map.Entry<String, JsonNode>> it = p.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            peaks.put(e.getKey(), positive(e.getValue(), "peak_flops." + e.getKey(), file));
        }
        String dtype = n.path("train_dtype").asText("bf16");
        if (!peaks.containsKey(dtype)) {
            throw new IllegalArgumentException(file + ": train_dtype " + dtype + " has no peak_flops entry; entries: "
                    + peaks.keySet());
        }
        double mfu = positive(required(n, "mfu", file), "mfu", file);
        double overlap = required(n, "comm_overlap", file).asDouble(-1);
        if (mfu > 1 || overlap < 0 || overlap > 1) {
            throw new IllegalArgumentException(file + ": mfu must be in (0, 1] and comm_overlap in [0, 1], got "
                    + mfu + " and " + overlap);
        }
        return new HardwareProfile(n.path("name").asText(file.getFileName().toString()), peaks,
                positive(required(n, "memory_gb", file), "memory_gb", file) * 1e9,
                (int) positive(required(n, "devices_per_node", file), "devices_per_node", file),
                positive(required(n, "intra_node_gb_per_s", file), "intra_node_gb_per_s", file) * 1e9,
                positive(required(n, "inter_node_gb_per_s", file), "inter_node_gb_per_s", file) * 1e9,
                dtype, mfu, overlap, n.path("source").toString());
    }

    private static JsonNode required(JsonNode n, String field, Path file) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException(file + ": the hardware profile lacks '" + field + "' (docs/plan.md)");
        }
        return v;
    }

    private static double positive(JsonNode v, String field, Path file) {
        double d = v.asDouble(-1);
        if (!v.isNumber() || !(d > 0)) {
            throw new IllegalArgumentException(file + ": '" + field + "' must be a number > 0, got " + v);
        }
        return d;
    }
}
