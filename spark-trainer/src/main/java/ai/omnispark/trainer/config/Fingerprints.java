package ai.omnispark.trainer.config;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Reads the {@link Fingerprint}-marked components of config records as {@code key -> text}. */
public final class Fingerprints {
    private Fingerprints() {}

    /**
     * Every marked component of {@code records}, by its key. An absent value (null: e.g. no
     * {@code model.lora_config}) and a flag that is off (false: e.g. {@code model.freeze_merger})
     * are left out, so a checkpoint written before the key existed matches a run that does not use it.
     */
    public static Map<String, String> of(Record... records) {
        Map<String, String> out = new TreeMap<>();
        for (Record r : records) {
            for (RecordComponent c : r.getClass().getRecordComponents()) {
                Fingerprint mark = c.getAnnotation(Fingerprint.class);
                if (mark == null) {
                    continue;
                }
                Object value = read(r, c);
                if (value != null && !Boolean.FALSE.equals(value) && out.put(mark.value(), text(value)) != null) {
                    throw new IllegalStateException("two fingerprinted components are named " + mark.value());
                }
            }
        }
        return out;
    }

    /** A value as the fingerprint records it: enums by their config spelling, the rest as text. */
    static String text(Object value) {
        if (value instanceof Enum<?> e) {
            return e.name().toLowerCase(Locale.ROOT);
        }
        return String.valueOf(value);
    }

    private static Object read(Record r, RecordComponent c) {
        try {
            c.getAccessor().setAccessible(true);
            return c.getAccessor().invoke(r);
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("cannot read " + c.getName() + " of " + r.getClass().getSimpleName(), e);
        }
    }
}
