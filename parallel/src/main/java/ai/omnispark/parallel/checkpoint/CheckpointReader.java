package ai.omnispark.parallel.checkpoint;

import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.param.HostCopy;
import ai.omnispark.parallel.param.OwnedSlice;
import ai.omnispark.parallel.param.Placement;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Reads a committed {@code global_step_N} for a rank of any world size: each rank assembles the
 * slices it owns now from whichever files hold them (resharding N ranks onto M), checking sizes and
 * checksums, and returns a complete {@link RankState} before anything is applied.
 */
public final class CheckpointReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final FileSystem fs;
    private final Path dir;

    public CheckpointReader(FileSystem fs, Path stepDir) {
        this.fs = fs;
        this.dir = stepDir;
    }

    public Path dir() {
        return dir;
    }

    /** The extra state the save's rank 0 wrote (step, data cursor, scheduler, fingerprint). */
    public JsonNode extraState() throws IOException {
        return readJson(new Path(new Path(dir, CheckpointPaths.EXTRA_STATE), CheckpointPaths.extraStateFile(0)));
    }

    /** The extra state rank {@code rank} wrote (its own data cursor, generator), or null if no such rank saved. */
    public JsonNode extraState(int rank) throws IOException {
        Path file = new Path(new Path(dir, CheckpointPaths.EXTRA_STATE), CheckpointPaths.extraStateFile(rank));
        return fs.exists(file) ? readJson(file) : null;
    }

    /**
     * The state a rank needs: for every unit, the slice {@code owned.apply(unit)} of its weights;
     * with the optimizer state of every trainable unit when the save had taken an optimizer step
     * (frozen units have none).
     */
    public RankState read(List<UnitLayout> layouts, Function<String, OwnedSlice> owned) throws IOException {
        JsonNode extra = extraState();
        long optimizerSteps = extra.path("optimizer_steps").asLong(0);
        List<String> stateNames = new ArrayList<>();
        extra.path(Checkpointer.OPTIMIZER_STATE_NAMES).forEach(n -> stateNames.add(n.asText()));
        if (stateNames.isEmpty()) {
            stateNames.addAll(AdamW.STATE_NAMES); // saved before the names were recorded: AdamW was the only optimizer
        }
        Map<String, Map<String, Slice>> fileCache = new HashMap<>();
        JsonNode modelIndex = readJson(new Path(new Path(dir, CheckpointPaths.MODEL), CheckpointPaths.INDEX));
        Map<String, Slice> model = new LinkedHashMap<>();
        Map<String, Slice> moments = new LinkedHashMap<>();
        for (UnitLayout u : layouts) {
            OwnedSlice o = owned.apply(u.name());
            model.put(u.name(), assemble(CheckpointPaths.MODEL, modelIndex, u.name(), u.numel(), o, fileCache));
        }
        if (optimizerSteps > 0) {
            JsonNode optIndex = readJson(new Path(new Path(dir, CheckpointPaths.OPTIMIZER), CheckpointPaths.INDEX));
            for (UnitLayout u : layouts) {
                if (!Placement.trainable(u)) {
                    continue;
                }
                OwnedSlice o = owned.apply(u.name());
                for (String name : stateNames) {
                    String key = RankState.stateKey(u.name(), name);
                    moments.put(key, assemble(CheckpointPaths.OPTIMIZER, optIndex, key, u.numel(), o, fileCache));
                }
            }
        }
        return new RankState(model, moments, optimizerSteps, stateNames);
    }

    private Slice assemble(String kind, JsonNode index, String key, long numel, OwnedSlice want,
            Map<String, Map<String, Slice>> cache) throws IOException {
        Path indexFile = new Path(new Path(dir, kind), CheckpointPaths.INDEX);
        JsonNode t = index.path("tensors").get(key);
        if (t == null) {
            throw new IOException(indexFile + " has no tensor " + key + " (the checkpoint is of another model?)");
        }
        if (t.get("numel").asLong() != numel) {
            throw new IOException(indexFile + ": " + key + " has " + t.get("numel").asLong()
                    + " elements, the model has " + numel);
        }
        float[] out = null;
        long covered = 0;
        // Replicas (DDP, HSDP) save the same slice more than once; any one copy will do.
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (JsonNode s : t.get("slices")) {
            if (!seen.add(s.get("begin").asLong() + ":" + s.get("end").asLong())) {
                continue;
            }
            long b = Math.max(s.get("begin").asLong(), want.begin());
            long e = Math.min(s.get("end").asLong(), want.end());
            if (b >= e) {
                continue;
            }
            String fileName = s.get("file").asText();
            Map<String, Slice> file = cache.get(kind + "/" + fileName);
            if (file == null) {
                JsonNode f = index.path("files").get(fileName);
                if (f == null) {
                    throw new IOException(indexFile + " lists slice file " + fileName + " but not its size");
                }
                file = ShardFiles.read(fs, new Path(new Path(dir, kind), fileName), f.get("bytes").asLong(),
                        f.get("crc32").asLong());
                cache.put(kind + "/" + fileName, file);
            }
            Slice slice = file.get(key);
            if (slice == null || slice.begin() != s.get("begin").asLong() || slice.end() != s.get("end").asLong()) {
                throw new IOException("checkpoint file " + new Path(new Path(dir, kind), fileName)
                        + " does not hold " + key + " [" + s.get("begin") + ", " + s.get("end") + ") as its index says");
            }
            if (slice.begin() == want.begin() && slice.end() == want.end()) {
                return slice; // saved with the same sharding: the slice read is the one wanted, no copy
            }
            if (out == null) {
                out = new float[HostCopy.arrayLength(key, want.length())];
            }
            System.arraycopy(slice.values(), (int) (b - slice.begin()), out, (int) (b - want.begin()), (int) (e - b));
            covered += e - b;
        }
        if (covered != want.length()) {
            throw new IOException(indexFile + ": the slices of " + key + " cover " + covered + " of the "
                    + want.length() + " elements [" + want.begin() + ", " + want.end() + ") this rank needs");
        }
        return new Slice(numel, want.begin(), out == null ? new float[0] : out);
    }

    private JsonNode readJson(Path file) throws IOException {
        return CheckpointVerifier.readJson(fs, file);
    }
}
