package ai.omnispark.trainer.config;

import ai.omnispark.trainer.config.Key.Type;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Every configuration key OmniSpark reads, by section. VeOmni's names where it has one. See docs/config.md. */
public final class Keys {
    private Keys() {}

    /** Each section's keys, declared by the section's record. */
    public static final List<Key> ALL = concat(ModelSection.KEYS, DataSection.KEYS, TrainSection.KEYS,
            DebugSection.KEYS);

    private static final Map<String, Key> BY_NAME = index();

    private static Map<String, Key> index() {
        Map<String, Key> map = new LinkedHashMap<>();
        for (Key k : ALL) {
            map.put(k.name(), k);
        }
        return map;
    }

    public static Key get(String name) {
        return BY_NAME.get(name);
    }

    /** The map key that {@code name} is a field of ({@code model.lora_config} for {@code model.lora_config.rank}), or null. */
    static Key mapOwning(String name) {
        for (Key k : ALL) {
            if (k.type() == Type.MAP && name.startsWith(k.name() + ".")) {
                return k;
            }
        }
        return null;
    }

    @SafeVarargs
    private static List<Key> concat(List<Key>... sections) {
        List<Key> all = new ArrayList<>();
        for (List<Key> s : sections) {
            all.addAll(s);
        }
        return List.copyOf(all);
    }

    /** Sections a config may have. */
    public static final List<String> SECTIONS = List.of("model", "data", "train", "debug");
}
