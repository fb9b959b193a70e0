package ai.omnispark.data.pipeline;

import ai.omnispark.data.latent.FloatTensor;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A record from a JSON line. Media values are a path string, an object with {@code path} or
 * base64 {@code bytes} (the Hugging Face image layout), or a list of those. Messages are objects
 * with {@code role}/{@code content}, or ShareGPT's {@code from}/{@code value}.
 */
final class JsonRecord implements SourceRecord {
    private final JsonNode node;
    private final String raw;

    JsonRecord(JsonNode node, String raw) {
        this.node = node;
        this.raw = raw;
    }

    @Override
    public String text(String key) throws SampleRejected {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new SampleRejected(RejectReason.MISSING_COLUMN, "'" + key + "' is " + v.getNodeType() + ", not a string");
        }
        return v.asText();
    }

    @Override
    public List<Message> messages(String key) throws SampleRejected {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isArray()) {
            throw new SampleRejected(RejectReason.BAD_MESSAGES, "'" + key + "' is not a list of messages");
        }
        List<Message> messages = new ArrayList<>(v.size());
        for (JsonNode m : v) {
            JsonNode role = m.has("role") ? m.get("role") : m.get("from");
            JsonNode content = m.has("content") ? m.get("content") : m.get("value");
            if (role == null || !role.isTextual() || content == null || !content.isTextual()) {
                throw new SampleRejected(RejectReason.BAD_MESSAGES,
                        "a message of '" + key + "' lacks a string role/content: " + abbreviate(m.toString()));
            }
            messages.add(new Message(role.asText(), content.asText()));
        }
        return messages;
    }

    @Override
    public List<MediaRef> media(String key) throws SampleRejected {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        List<MediaRef> refs = new ArrayList<>();
        if (v.isArray()) {
            for (JsonNode item : v) {
                refs.add(ref(key, item));
            }
        } else {
            refs.add(ref(key, v));
        }
        return refs;
    }

    private static MediaRef ref(String key, JsonNode v) throws SampleRejected {
        if (v.isTextual()) {
            return MediaRef.ofPath(v.asText());
        }
        if (v.isObject()) {
            JsonNode bytes = v.get("bytes");
            if (bytes != null && !bytes.isNull()) {
                try {
                    return MediaRef.ofBytes(bytes.binaryValue());
                } catch (IOException e) {
                    throw new SampleRejected(RejectReason.MISSING_COLUMN, "'" + key + ".bytes' is not base64");
                }
            }
            JsonNode path = v.get("path");
            if (path != null && path.isTextual()) {
                return MediaRef.ofPath(path.asText());
            }
        }
        throw new SampleRejected(RejectReason.MISSING_COLUMN,
                "'" + key + "' is neither a path nor {bytes|path}: " + abbreviate(v.toString()));
    }

    @Override
    public TensorField tensor(String key) throws SampleRejected {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isTextual()) {
            return TensorField.file(v.asText(), null);
        }
        if (v.isObject()) {
            JsonNode path = v.get("path");
            JsonNode tensor = v.get("tensor");
            if (path == null || !path.isTextual() || (tensor != null && !tensor.isNull() && !tensor.isTextual())) {
                throw new SampleRejected(RejectReason.BAD_TENSOR, "'" + key + "' is an object without a string "
                        + "'path' (and optional string 'tensor'): " + abbreviate(v.toString()));
            }
            return TensorField.file(path.asText(), tensor == null || tensor.isNull() ? null : tensor.asText());
        }
        if (!v.isArray()) {
            throw new SampleRejected(RejectReason.BAD_TENSOR, "'" + key + "' is " + v.getNodeType()
                    + ", not a nested array of numbers nor a safetensors path");
        }
        try {
            return TensorField.of(FloatTensor.fromNested(v, JSON_ARRAYS));
        } catch (IllegalArgumentException e) {
            throw new SampleRejected(RejectReason.BAD_TENSOR, "'" + key + "': " + e.getMessage());
        }
    }

    private static final FloatTensor.Nested JSON_ARRAYS = new FloatTensor.Nested() {
        @Override
        public List<?> items(Object node) {
            JsonNode n = (JsonNode) node;
            if (!n.isArray()) {
                return null;
            }
            List<JsonNode> items = new ArrayList<>(n.size());
            n.forEach(items::add);
            return items;
        }

        @Override
        public double number(Object node) {
            JsonNode n = (JsonNode) node;
            if (!n.isNumber()) {
                throw new IllegalArgumentException("holds " + n.getNodeType() + " " + abbreviate(n.toString())
                        + " where a number belongs");
            }
            return n.asDouble();
        }
    };

    @Override
    public String raw() {
        return raw;
    }

    static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }
}
