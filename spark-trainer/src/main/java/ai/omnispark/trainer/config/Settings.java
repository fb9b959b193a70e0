package ai.omnispark.trainer.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * A validated configuration: a YAML file with sections {@code model}, {@code data}, {@code train},
 * then {@code --set section.key=value} overrides. Every key is checked against {@link Keys}. This
 * flat map is what travels to Spark tasks (it is Serializable); {@link JobConfig#from} turns it
 * into one typed record per section, which is what the code reads.
 */
public final class Settings implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final Map<String, Object> values;
    private final String source;

    private Settings(Map<String, Object> values, String source) {
        this.values = Collections.unmodifiableMap(values);
        this.source = source;
    }

    public static Settings load(Path yaml, List<String> overrides) {
        if (!Files.isRegularFile(yaml)) {
            throw new ConfigException("config file " + yaml + " does not exist");
        }
        Object root;
        try (Reader reader = Files.newBufferedReader(yaml, StandardCharsets.UTF_8)) {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(reader);
        } catch (IOException | YAMLException e) {
            throw new ConfigException("cannot read config " + yaml + ": " + e.getMessage());
        }
        return fromTree(root, overrides, yaml.toString());
    }

    /** Builds settings from an already parsed YAML tree (a map of sections). */
    public static Settings fromTree(Object root, List<String> overrides, String source) {
        Map<String, Object> raw = new LinkedHashMap<>();
        if (root != null) {
            if (!(root instanceof Map<?, ?> sections)) {
                throw new ConfigException(source + ": the top level must be a map of sections " + Keys.SECTIONS);
            }
            for (Map.Entry<?, ?> section : sections.entrySet()) {
                String name = String.valueOf(section.getKey());
                if (!Keys.SECTIONS.contains(name)) {
                    throw new ConfigException(source + ": unknown section '" + name + "'; sections are " + Keys.SECTIONS);
                }
                if (section.getValue() == null) {
                    continue;
                }
                if (!(section.getValue() instanceof Map<?, ?> entries)) {
                    throw new ConfigException(source + ": section '" + name + "' must be a map of keys");
                }
                for (Map.Entry<?, ?> e : entries.entrySet()) {
                    raw.put(name + "." + e.getKey(), e.getValue());
                }
            }
        }
        for (String override : overrides) {
            int eq = override.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("--set takes key=value, got '" + override + "'");
            }
            put(raw, override.substring(0, eq).trim(), override.substring(eq + 1));
        }
        Map<String, Object> values = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : raw.entrySet()) {
            Key key = Keys.get(e.getKey());
            if (key == null) {
                throw new ConfigException(source + ": unknown key '" + e.getKey() + "'" + suggestion(e.getKey()));
            }
            values.put(key.name(), coerce(key, e.getValue(), source));
        }
        for (Key key : Keys.ALL) {
            values.putIfAbsent(key.name(), key.defaultValue());
        }
        return new Settings(values, source);
    }

    /**
     * Puts one {@code --set}: a dotted name inside a map key ({@code model.lora_config.rank}) sets
     * that field of the map, keeping the others the YAML gave.
     */
    private static void put(Map<String, Object> raw, String name, Object value) {
        Key owner = Keys.mapOwning(name);
        if (owner == null) {
            raw.put(name, value);
            return;
        }
        Map<Object, Object> nested = new LinkedHashMap<>();
        if (raw.get(owner.name()) instanceof Map<?, ?> given) {
            nested.putAll(given);
        }
        nested.put(name.substring(owner.name().length() + 1), value);
        raw.put(owner.name(), nested);
    }

    private static Object coerce(Key key, Object value, String source) {
        try {
            return key.coerce(value);
        } catch (ConfigException e) {
            if (key.type() == Key.Type.MAP) {
                throw new ConfigException(source + ": " + e.getMessage());
            }
            throw e;
        }
    }

    private static String suggestion(String name) {
        String section = name.contains(".") ? name.substring(0, name.indexOf('.')) : "";
        StringBuilder known = new StringBuilder();
        for (Key k : Keys.ALL) {
            if (k.name().startsWith(section + ".")) {
                known.append(known.length() == 0 ? "" : ", ").append(k.name());
            }
        }
        return known.length() == 0 ? "; sections are " + Keys.SECTIONS : "; known keys there: " + known;
    }

    public String source() {
        return source;
    }

    private Object value(String name) {
        if (!values.containsKey(name)) {
            throw new IllegalStateException("no config key named " + name + " is declared in Keys");
        }
        return values.get(name);
    }

    public String string(String name) {
        return (String) value(name);
    }

    /** A copy with one key changed (checked like a --set, a map's field included). */
    public Settings with(String name, Object value) {
        Map<String, Object> copy = new LinkedHashMap<>(values);
        put(copy, name, value);
        Key key = Keys.get(name);
        if (key == null) {
            key = Keys.mapOwning(name);
        }
        if (key == null) {
            throw new ConfigException("unknown key '" + name + "'");
        }
        copy.put(key.name(), coerce(key, copy.get(key.name()), source));
        return new Settings(copy, source);
    }

    /** Any key's value as text (for fingerprints and messages). */
    public String text(String name) {
        return String.valueOf(value(name));
    }

    public long integer(String name) {
        return (Long) value(name);
    }

    public int intValue(String name) {
        long v = integer(name);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new ConfigException(name + " is out of range: " + v);
        }
        return (int) v;
    }

    /** A map key's fields by their short names (e.g. {@code rank}), or null when the map is absent. */
    @SuppressWarnings("unchecked")
    public Map<String, Object> map(String name) {
        return (Map<String, Object>) value(name);
    }

    public double number(String name) {
        return (Double) value(name);
    }

    public boolean flag(String name) {
        return (Boolean) value(name);
    }

    @SuppressWarnings("unchecked")
    public List<String> strings(String name) {
        return (List<String>) value(name);
    }

    /** All values, for fingerprints and logs. */
    public Map<String, Object> asMap() {
        return values;
    }
}
