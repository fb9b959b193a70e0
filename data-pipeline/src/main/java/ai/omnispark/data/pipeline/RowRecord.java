package ai.omnispark.data.pipeline;

import ai.omnispark.data.latent.FloatTensor;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;

/**
 * A record from a Spark row (Parquet, or a caller's DataFrame). Media columns are a path string,
 * binary, a struct with {@code bytes}/{@code path}, or an array of those; messages are an array
 * of structs with {@code role}/{@code content}.
 */
final class RowRecord implements SourceRecord {
    private final Row row;

    RowRecord(Row row) {
        this.row = row;
    }

    private Object value(String key) {
        StructType schema = row.schema();
        scala.Option<Object> index = schema.getFieldIndex(key);
        if (index.isEmpty()) {
            return null;
        }
        int i = (Integer) index.get();
        return row.isNullAt(i) ? null : row.get(i);
    }

    @Override
    public String text(String key) throws SampleRejected {
        Object v = value(key);
        if (v == null) {
            return null;
        }
        if (!(v instanceof String s)) {
            throw new SampleRejected(RejectReason.MISSING_COLUMN, "'" + key + "' is not a string");
        }
        return s;
    }

    @Override
    public List<Message> messages(String key) throws SampleRejected {
        Object v = value(key);
        if (v == null) {
            return null;
        }
        List<Message> messages = new ArrayList<>();
        for (Object item : list(key, v)) {
            if (!(item instanceof Row m)) {
                throw new SampleRejected(RejectReason.BAD_MESSAGES, "'" + key + "' holds a non-struct message");
            }
            Object role = field(m, "role");
            Object content = field(m, "content");
            if (!(role instanceof String r) || !(content instanceof String c)) {
                throw new SampleRejected(RejectReason.BAD_MESSAGES, "a message of '" + key + "' lacks role/content");
            }
            messages.add(new Message(r, c));
        }
        return messages;
    }

    @Override
    public List<MediaRef> media(String key) throws SampleRejected {
        Object v = value(key);
        if (v == null) {
            return null;
        }
        List<MediaRef> refs = new ArrayList<>();
        if (v instanceof scala.collection.Seq<?>) {
            for (Object item : list(key, v)) {
                refs.add(ref(key, item));
            }
        } else {
            refs.add(ref(key, v));
        }
        return refs;
    }

    private static MediaRef ref(String key, Object v) throws SampleRejected {
        if (v instanceof String s) {
            return MediaRef.ofPath(s);
        }
        if (v instanceof byte[] b) {
            return MediaRef.ofBytes(b);
        }
        if (v instanceof Row r) {
            if (field(r, "bytes") instanceof byte[] b) {
                return MediaRef.ofBytes(b);
            }
            if (field(r, "content") instanceof byte[] b) {
                return MediaRef.ofBytes(b);
            }
            if (field(r, "path") instanceof String s) {
                return MediaRef.ofPath(s);
            }
        }
        throw new SampleRejected(RejectReason.MISSING_COLUMN, "'" + key + "' is neither a path, binary nor {bytes|path}");
    }

    private static List<?> list(String key, Object v) throws SampleRejected {
        if (v instanceof scala.collection.Seq<?> seq) {
            return scala.collection.JavaConverters.seqAsJavaList(seq);
        }
        throw new SampleRejected(RejectReason.BAD_MESSAGES, "'" + key + "' is not an array");
    }

    private static Object field(Row r, String name) {
        scala.Option<Object> index = r.schema() == null ? scala.Option.empty() : r.schema().getFieldIndex(name);
        if (index.isEmpty()) {
            return null;
        }
        int i = (Integer) index.get();
        return r.isNullAt(i) ? null : r.get(i);
    }

    @Override
    public TensorField tensor(String key) throws SampleRejected {
        Object v = value(key);
        if (v == null) {
            return null;
        }
        if (v instanceof String s) {
            return TensorField.file(s, null);
        }
        if (v instanceof Row r) {
            Object path = field(r, "path");
            Object tensor = field(r, "tensor");
            if (!(path instanceof String p) || (tensor != null && !(tensor instanceof String))) {
                throw new SampleRejected(RejectReason.BAD_TENSOR, "'" + key + "' is a struct without a string "
                        + "'path' (and optional string 'tensor')");
            }
            return TensorField.file(p, (String) tensor);
        }
        if (!(v instanceof scala.collection.Seq<?>)) {
            throw new SampleRejected(RejectReason.BAD_TENSOR, "'" + key + "' is " + v.getClass().getSimpleName()
                    + ", not a nested array of numbers nor a safetensors path");
        }
        try {
            return TensorField.of(FloatTensor.fromNested(v, SPARK_ARRAYS));
        } catch (IllegalArgumentException e) {
            throw new SampleRejected(RejectReason.BAD_TENSOR, "'" + key + "': " + e.getMessage());
        }
    }

    private static final FloatTensor.Nested SPARK_ARRAYS = new FloatTensor.Nested() {
        @Override
        public List<?> items(Object node) {
            return node instanceof scala.collection.Seq<?> seq ? scala.collection.JavaConverters.seqAsJavaList(seq)
                    : null;
        }

        @Override
        public double number(Object node) {
            if (!(node instanceof Number n)) {
                throw new IllegalArgumentException("holds " + (node == null ? "null" : node.getClass().getSimpleName())
                        + " where a number belongs");
            }
            return n.doubleValue();
        }
    };

    @Override
    public String raw() {
        String json;
        try {
            json = row.json();
        } catch (RuntimeException e) {
            json = row.toString();
        }
        return json.length() <= 10_000 ? json : json.substring(0, 10_000) + "...";
    }
}
