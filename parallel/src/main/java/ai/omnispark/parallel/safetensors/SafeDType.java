package ai.omnispark.parallel.safetensors;

/** Element types of the safetensors format, with their on-disk names and sizes. */
public enum SafeDType {
    F64("F64", 8), F32("F32", 4), F16("F16", 2), BF16("BF16", 2),
    I64("I64", 8), I32("I32", 4), I16("I16", 2), I8("I8", 1), U8("U8", 1), BOOL("BOOL", 1);

    private final String id;
    private final int byteSize;

    SafeDType(String id, int byteSize) {
        this.id = id;
        this.byteSize = byteSize;
    }

    public String id() {
        return id;
    }

    public int byteSize() {
        return byteSize;
    }

    /** The dtype named {@code id}, or null if the format has no such name here. */
    public static SafeDType fromId(String id) {
        for (SafeDType t : values()) {
            if (t.id.equals(id)) {
                return t;
            }
        }
        return null;
    }
}
