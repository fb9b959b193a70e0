package ai.omnispark.parallel.checkpoint;

import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * {@code model/index.json} and {@code optimizer/index.json}: for every flat tensor its full size,
 * the parameters inside it (name, shape, offset), and which rank's file holds which slice; for
 * every file its size and CRC-32. Built by rank 0 from the ranks' reports when a save commits.
 */
final class CheckpointIndex {
    static final String FORMAT = "omnispark-sharded-v1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private CheckpointIndex() {}

    /**
     * @param reports per rank, the {@code files.<kind>} object of its extra state:
     *     {@code {"name":..,"bytes":..,"crc32":..,"slices":{key:[begin,end,total]}}}
     */
    static ObjectNode build(String kind, long step, List<JsonNode> reports, List<UnitLayout> layouts) {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("kind", kind);
        root.put("step", step);
        root.put("world_size", reports.size());
        ObjectNode files = root.putObject("files");
        ObjectNode tensors = root.putObject("tensors");
        for (int rank = 0; rank < reports.size(); rank++) {
            JsonNode r = reports.get(rank);
            ObjectNode f = files.putObject(r.get("name").asText());
            f.put("rank", rank);
            f.put("bytes", r.get("bytes").asLong());
            f.put("crc32", r.get("crc32").asLong());
            r.get("slices").fields().forEachRemaining(e -> {
                String key = e.getKey();
                ObjectNode t = (ObjectNode) tensors.get(key);
                if (t == null) {
                    t = tensors.putObject(key);
                    t.put("numel", e.getValue().get(2).asLong());
                    t.put("dtype", "F32");
                    UnitLayout unit = unitOf(key, layouts);
                    if (unit != null && kind.equals(CheckpointPaths.MODEL)) {
                        ArrayNode params = t.putArray("params");
                        for (ParamSpec p : unit.params()) {
                            ObjectNode pn = params.addObject();
                            pn.put("name", p.name());
                            ArrayNode shape = pn.putArray("shape");
                            for (long d : p.shape().getShape()) {
                                shape.add(d);
                            }
                            pn.put("offset", unit.offset(p.name()));
                        }
                    }
                    t.putArray("slices");
                }
                ObjectNode s = ((ArrayNode) t.get("slices")).addObject();
                s.put("file", r.get("name").asText());
                s.put("rank", f.get("rank").asInt());
                s.put("begin", e.getValue().get(0).asLong());
                s.put("end", e.getValue().get(1).asLong());
            });
        }
        return root;
    }

    private static UnitLayout unitOf(String key, List<UnitLayout> layouts) {
        for (UnitLayout u : layouts) {
            if (u.name().equals(key)) {
                return u;
            }
        }
        return null;
    }
}
