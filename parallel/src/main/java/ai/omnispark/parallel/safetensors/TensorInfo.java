package ai.omnispark.parallel.safetensors;

/** One tensor's entry in a safetensors header; offsets are relative to the data section. */
public record TensorInfo(String name, SafeDType dtype, long[] shape, long begin, long end) {
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public long byteLength() {
        return end - begin;
    }
}
