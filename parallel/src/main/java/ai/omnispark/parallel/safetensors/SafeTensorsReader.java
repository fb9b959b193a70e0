package ai.omnispark.parallel.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a safetensors file, validating the whole header before handing out any data: header length
 * within the file and below {@link #MAX_HEADER_BYTES}, known dtypes, non-negative shapes, each
 * tensor's byte range matching its shape and lying inside the data section, no overlaps.
 */
public final class SafeTensorsReader implements AutoCloseable {
    /** Bytes per read when copying a tensor into an array: 4 MiB. */
    private static final int READ_PART = 1 << 22;

    /** Headers larger than this are refused before allocation (the reference limit is 100 MB). */
    public static final long MAX_HEADER_BYTES = 100L * 1000 * 1000;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final SeekableByteChannel channel;
    private final String name;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafeTensorsReader(SeekableByteChannel channel, long size, String name) throws IOException {
        this.channel = channel;
        this.name = name;
        if (size < 8) {
            throw error("is " + size + " bytes, shorter than the 8-byte header length");
        }
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(0, len);
        long headerLen = len.flip().getLong();
        if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
            throw error("claims a header of " + Long.toUnsignedString(headerLen) + " bytes (allowed 2.."
                    + MAX_HEADER_BYTES + ")");
        }
        if (8 + headerLen > size) {
            throw error("claims a header of " + headerLen + " bytes but has only " + (size - 8) + " after the length");
        }
        ByteBuffer header = ByteBuffer.allocate((int) headerLen);
        readFully(8, header);
        this.dataStart = 8 + headerLen;
        JsonNode root;
        try {
            root = JSON.readTree(new String(header.array(), StandardCharsets.UTF_8).trim());
        } catch (IOException e) {
            throw error("has a header that is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) {
            throw error("has a header that is not a JSON object");
        }
        long dataLen = size - dataStart;
        Map<String, TensorInfo> parsed = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> fields = root.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> f = fields.next();
            if (f.getKey().equals("__metadata__")) {
                if (!f.getValue().isObject()) {
                    throw error("has __metadata__ that is not an object of strings");
                }
                Iterator<Map.Entry<String, JsonNode>> m = f.getValue().fields();
                while (m.hasNext()) {
                    Map.Entry<String, JsonNode> e = m.next();
                    if (!e.getValue().isTextual()) {
                        throw error("has __metadata__ entry '" + e.getKey() + "' that is not a string");
                    }
                    meta.put(e.getKey(), e.getValue().asText());
                }
                continue;
            }
            parsed.put(f.getKey(), parseTensor(f.getKey(), f.getValue(), dataLen));
        }
        List<TensorInfo> byOffset = new ArrayList<>(parsed.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long covered = 0;
        for (TensorInfo t : byOffset) {
            if (t.begin() < covered) {
                throw error("has tensor '" + t.name() + "' at bytes [" + t.begin() + ", " + t.end()
                        + ") overlapping the tensor before it");
            }
            covered = Math.max(covered, t.end());
        }
        List<TensorInfo> ordered = new ArrayList<>(byOffset);
        Map<String, TensorInfo> inFileOrder = new LinkedHashMap<>();
        for (TensorInfo t : ordered) {
            inFileOrder.put(t.name(), t);
        }
        this.tensors = Collections.unmodifiableMap(inFileOrder);
        this.metadata = Collections.unmodifiableMap(meta);
    }

    private TensorInfo parseTensor(String tensor, JsonNode node, long dataLen) throws SafeTensorsFormatException {
        if (!node.isObject()) {
            throw error("has entry '" + tensor + "' that is not an object");
        }
        JsonNode dtypeNode = node.get("dtype");
        SafeDType dtype = dtypeNode != null && dtypeNode.isTextual() ? SafeDType.fromId(dtypeNode.asText()) : null;
        if (dtype == null) {
            throw error("has tensor '" + tensor + "' with unknown dtype " + dtypeNode);
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw error("has tensor '" + tensor + "' without a shape array");
        }
        long[] shape = new long[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || d.asLong() < 0 || !d.isIntegralNumber()) {
                throw error("has tensor '" + tensor + "' with invalid dimension " + d);
            }
            shape[i] = d.asLong();
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException e) {
                throw error("has tensor '" + tensor + "' whose shape overflows");
            }
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()) {
            throw error("has tensor '" + tensor + "' without data_offsets [begin, end]");
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataLen) {
            throw error("has tensor '" + tensor + "' at bytes [" + begin + ", " + end
                    + ") outside the data section of " + dataLen + " bytes");
        }
        long expected;
        try {
            expected = Math.multiplyExact(numel, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw error("has tensor '" + tensor + "' whose byte size overflows");
        }
        if (end - begin != expected) {
            throw error("has tensor '" + tensor + "' of " + (end - begin) + " bytes, but shape "
                    + java.util.Arrays.toString(shape) + " of " + dtype.id() + " needs " + expected);
        }
        return new TensorInfo(tensor, dtype, shape, begin, end);
    }

    public static SafeTensorsReader open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new SafeTensorsReader(ch, ch.size(), file.toString());
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Reads from {@code channel} of {@code size} bytes; the reader closes the channel. */
    public static SafeTensorsReader open(SeekableByteChannel channel, long size, String nameForErrors)
            throws IOException {
        try {
            return new SafeTensorsReader(channel, size, nameForErrors);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    private SafeTensorsFormatException error(String what) {
        return new SafeTensorsFormatException("safetensors file " + name + " " + what);
    }

    private void readFully(long position, ByteBuffer dst) throws IOException {
        channel.position(position);
        while (dst.hasRemaining()) {
            if (channel.read(dst) < 0) {
                throw error("ends early at byte " + channel.position());
            }
        }
    }

    /** Tensors in the order of their data in the file. */
    public List<TensorInfo> tensors() {
        return new ArrayList<>(tensors.values());
    }

    public TensorInfo info(String tensor) throws SafeTensorsFormatException {
        TensorInfo t = tensors.get(tensor);
        if (t == null) {
            throw error("has no tensor named '" + tensor + "'");
        }
        return t;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** The tensor's bytes, little-endian. */
    public ByteBuffer read(String tensor) throws IOException {
        TensorInfo t = info(tensor);
        if (t.byteLength() > Integer.MAX_VALUE) {
            throw error("has tensor '" + tensor + "' over 2 GiB; read it with readInto in parts");
        }
        ByteBuffer b = ByteBuffer.allocate((int) t.byteLength()).order(ByteOrder.LITTLE_ENDIAN);
        readFully(dataStart + t.begin(), b);
        return b.flip();
    }

    /** Reads the tensor's bytes into {@code dst}, which must have room for exactly them. */
    public void readInto(String tensor, ByteBuffer dst) throws IOException {
        TensorInfo t = info(tensor);
        if (dst.remaining() != t.byteLength()) {
            throw new IllegalArgumentException("tensor '" + tensor + "' has " + t.byteLength()
                    + " bytes but the buffer has room for " + dst.remaining());
        }
        readFully(dataStart + t.begin(), dst);
    }

    /**
     * Reads bytes {@code [offset, offset + dst.remaining())} of the tensor's data into {@code dst}:
     * a part of a tensor of any size.
     */
    public void readInto(String tensor, long offset, ByteBuffer dst) throws IOException {
        TensorInfo t = info(tensor);
        if (offset < 0 || offset + dst.remaining() > t.byteLength()) {
            throw new IllegalArgumentException("bytes [" + offset + ", " + (offset + dst.remaining()) + ") are outside "
                    + "tensor '" + tensor + "' of " + t.byteLength() + " bytes");
        }
        readFully(dataStart + t.begin() + offset, dst);
    }

    /** The whole F32 tensor, read a part at a time (so it may be over 2 GiB). */
    public float[] readFloats(String tensor) throws IOException {
        TensorInfo t = info(tensor);
        if (t.numel() > Integer.MAX_VALUE - 8) {
            throw error("has tensor '" + tensor + "' of " + t.numel() + " elements, more than a Java array holds");
        }
        float[] out = new float[(int) t.numel()];
        readFloats(tensor, 0, out, 0, out.length);
        return out;
    }

    /** Elements {@code [from, from + length)} of an F32 tensor into {@code out[at, at + length)}. */
    public void readFloats(String tensor, long from, float[] out, int at, int length) throws IOException {
        TensorInfo t = info(tensor);
        if (t.dtype() != SafeDType.F32) {
            throw error("has tensor '" + tensor + "' of " + t.dtype().id() + ", not F32");
        }
        ByteBuffer part = ByteBuffer.allocate((int) Math.min(READ_PART, Math.max(4, length * 4L)))
                .order(ByteOrder.LITTLE_ENDIAN);
        for (int done = 0; done < length; ) {
            int n = Math.min(part.capacity() / 4, length - done);
            part.clear().limit(n * 4);
            readInto(tensor, (from + done) * 4L, part);
            part.flip();
            part.asFloatBuffer().get(out, at + done, n);
            done += n;
        }
    }

    public double[] readDoubles(String tensor) throws IOException {
        TensorInfo t = info(tensor);
        if (t.dtype() != SafeDType.F64) {
            throw error("has tensor '" + tensor + "' of " + t.dtype().id() + ", not F64");
        }
        double[] out = new double[(int) t.numel()];
        read(tensor).asDoubleBuffer().get(out);
        return out;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
