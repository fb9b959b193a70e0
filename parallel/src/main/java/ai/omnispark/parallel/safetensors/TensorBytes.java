package ai.omnispark.parallel.safetensors;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A tensor's little-endian bytes, produced when the file is written. Lets a tensor of any size be
 * written from Java arrays a part at a time (a ByteBuffer holds at most 2 GiB).
 */
@FunctionalInterface
public interface TensorBytes {
    /** Bytes per part when converting arrays: 1 MiB. */
    int PART = 1 << 20;

    void writeTo(OutputStream out) throws IOException;

    /** The bytes of {@code data} from its position to its limit (not copied). */
    static TensorBytes of(ByteBuffer data) {
        ByteBuffer source = data.duplicate();
        return out -> {
            ByteBuffer b = source.duplicate();
            byte[] part = new byte[Math.min(PART, Math.max(1, b.remaining()))];
            while (b.hasRemaining()) {
                int n = Math.min(part.length, b.remaining());
                b.get(part, 0, n);
                out.write(part, 0, n);
            }
        };
    }

    /** {@code values} as F32 (not copied: they must not change before the file is written). */
    static TensorBytes ofFloats(float[] values) {
        return out -> {
            ByteBuffer part = ByteBuffer.allocate((int) Math.min(PART, Math.max(4, values.length * 4L)))
                    .order(ByteOrder.LITTLE_ENDIAN);
            for (int done = 0; done < values.length; ) {
                int n = Math.min(part.capacity() / 4, values.length - done);
                part.clear();
                part.asFloatBuffer().put(values, done, n);
                out.write(part.array(), 0, n * 4);
                done += n;
            }
        };
    }

    /** {@code values} as 16-bit elements (F16, BF16), not copied. */
    static TensorBytes ofShorts(short[] values) {
        return out -> {
            ByteBuffer part = ByteBuffer.allocate((int) Math.min(PART, Math.max(2, values.length * 2L)))
                    .order(ByteOrder.LITTLE_ENDIAN);
            for (int done = 0; done < values.length; ) {
                int n = Math.min(part.capacity() / 2, values.length - done);
                part.clear();
                part.asShortBuffer().put(values, done, n);
                out.write(part.array(), 0, n * 2);
                done += n;
            }
        };
    }
}
