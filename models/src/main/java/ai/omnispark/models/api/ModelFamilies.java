package ai.omnispark.models.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** The model families on the class path, and the choice of one from a HF config.json. */
public final class ModelFamilies {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelFamilies() {}

    /** Every registered family, in class-path order. */
    public static List<ModelFamily> registered() {
        List<ModelFamily> families = new ArrayList<>();
        ServiceLoader.load(ModelFamily.class, ModelFamilies.class.getClassLoader()).forEach(families::add);
        return families;
    }

    /** The family that accepts {@code hfConfig}; the error names its model_type and lists the registered families. */
    public static ModelFamily forConfig(JsonNode hfConfig) {
        List<ModelFamily> families = registered();
        for (ModelFamily f : families) {
            if (f.accepts(hfConfig)) {
                return f;
            }
        }
        String type = hfConfig.has("model_type") ? "model_type '" + hfConfig.get("model_type").asText() + "'"
                : hfConfig.has("_class_name") ? "_class_name '" + hfConfig.get("_class_name").asText() + "'"
                : "a config without model_type or _class_name";
        List<String> known = families.stream().map(f -> f.name() + " (" + f.accepted() + ")").toList();
        throw new IllegalArgumentException(type + " is not supported; registered model families: "
                + (known.isEmpty() ? "none" : String.join(", ", known)));
    }

    /** Builds the model {@code hfConfig} describes with the family that accepts it. */
    public static Model build(JsonNode hfConfig, ModelOptions options) {
        return forConfig(hfConfig).build(hfConfig, options);
    }

    /** Reads {@code path}, a config.json or a HF folder holding one. */
    public static JsonNode readConfig(Path path) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve("config.json") : path;
        if (!Files.isRegularFile(file)) {
            throw new IOException("no HF config at " + file);
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + " is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IOException(file + " is not a JSON object");
        }
        return root;
    }

    /**
     * Reads and builds the model of {@code path} (a config.json or a HF folder); a bad config fails
     * with an IOException naming the file.
     */
    public static Model load(Path path, ModelOptions options) throws IOException {
        JsonNode config = readConfig(path);
        try {
            return build(config, options);
        } catch (IllegalArgumentException e) {
            Path file = Files.isDirectory(path) ? path.resolve("config.json") : path;
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }
}
