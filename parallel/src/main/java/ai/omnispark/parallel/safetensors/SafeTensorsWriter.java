package ai.omnispark.parallel.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Collects tensors and writes them as one safetensors file: header keys sorted by name, data in the
 * same order, header padded with spaces to a multiple of 8 bytes, as HF's implementation does.
 */
public final class SafeTensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private record Entry(SafeDType dtype, long[] shape, long bytes, TensorBytes data) {}

    private final Map<String, Entry> tensors = new TreeMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    public SafeTensorsWriter metadata(Map<String, String> values) {
        metadata.putAll(values);
        return this;
    }

    /** Adds a tensor; {@code data} holds exactly its little-endian bytes and is not copied. */
    public SafeTensorsWriter add(String name, SafeDType dtype, long[] shape, ByteBuffer data) {
        long expected = bytes(name, dtype, shape);
        if (data.remaining() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "' of shape " + java.util.Arrays.toString(shape)
                    + " and " + dtype.id() + " needs " + expected + " bytes, got " + data.remaining());
        }
        return add(name, dtype, shape, TensorBytes.of(data));
    }

    /** Adds a 1-D F32 tensor of {@code values}, which are not copied and must not change until written. */
    public SafeTensorsWriter addFloats(String name, float[] values) {
        return add(name, SafeDType.F32, new long[] {values.length}, TensorBytes.ofFloats(values));
    }

    /**
     * Adds a tensor whose bytes {@code data} produces when the file is written; the writer checks it
     * produces exactly as many as the shape and dtype need.
     */
    public SafeTensorsWriter add(String name, SafeDType dtype, long[] shape, TensorBytes data) {
        long bytes = bytes(name, dtype, shape);
        if (tensors.put(name, new Entry(dtype, shape.clone(), bytes, data)) != null) {
            throw new IllegalArgumentException("tensor '" + name + "' was added twice");
        }
        return this;
    }

    private static long bytes(String name, SafeDType dtype, long[] shape) {
        if (name == null || name.isEmpty() || name.equals("__metadata__")) {
            throw new IllegalArgumentException("invalid tensor name '" + name + "'");
        }
        long numel = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has a negative dimension");
            }
            numel = Math.multiplyExact(numel, d);
        }
        return Math.multiplyExact(numel, dtype.byteSize());
    }

    private byte[] header() throws IOException {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Entry> e : tensors.entrySet()) {
            ObjectNode t = root.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype().id());
            var shape = t.putArray("shape");
            for (long d : e.getValue().shape()) {
                shape.add(d);
            }
            long len = e.getValue().bytes();
            var offs = t.putArray("data_offsets");
            offs.add(offset);
            offs.add(offset + len);
            offset += len;
        }
        byte[] json = JSON.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = new byte[padded];
        System.arraycopy(json, 0, out, 0, json.length);
        java.util.Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    public void write(OutputStream out) throws IOException {
        byte[] header = header();
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
        out.write(len.array());
        out.write(header);
        for (Map.Entry<String, Entry> e : tensors.entrySet()) {
            CountingStream counted = new CountingStream(out);
            e.getValue().data().writeTo(counted);
            if (counted.count != e.getValue().bytes()) {
                throw new IOException("tensor '" + e.getKey() + "' produced " + counted.count + " bytes, its header says "
                        + e.getValue().bytes());
            }
        }
        out.flush();
    }

    /** Passes bytes through, counting them; closing it leaves the underlying stream open. */
    private static final class CountingStream extends java.io.FilterOutputStream {
        long count;

        CountingStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }

    public void write(Path file) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file))) {
            write(out);
        }
    }
}
