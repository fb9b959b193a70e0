package ai.omnispark.parallel.param;

/**
 * The part of a unit's flat tensor one rank keeps as master copy: elements {@code [begin, end)} of
 * the unpadded flat tensor, stored at the start of a local array of {@code localLength} elements
 * (longer than {@code end - begin} where FSDP pads the last shard).
 */
public record OwnedSlice(long begin, long end, long localLength) {
    public OwnedSlice {
        if (begin < 0 || end < begin || localLength < end - begin) {
            throw new IllegalArgumentException("invalid owned slice [" + begin + ", " + end + ") in " + localLength);
        }
    }

    public long length() {
        return end - begin;
    }
}
