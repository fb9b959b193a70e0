package ai.omnispark.trainer.config;

import ai.omnispark.trainer.config.Key.Type;
import java.util.List;

/** The {@code debug} section: fault injection for tests. */
public record DebugSection(long failAtStep) {

    public static final List<Key> KEYS = List.of(
            new Key("debug.fail_at_step", Type.INT, 0L, "tests only: the last rank fails before this step, in the first attempt only"));

    static DebugSection parse(Settings s) {
        return new DebugSection(s.integer("debug.fail_at_step"));
    }
}
