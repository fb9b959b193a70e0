package ai.omnispark.trainer.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One configuration key: its dotted name, type, default and description. The list of keys in
 * {@link Keys} is the schema; anything else in a config file is an error. A {@link Type#MAP} key
 * holds a nested map whose own keys are {@code fields} (full dotted names, e.g.
 * {@code model.lora_config.rank}); a field with a null default is required once the map is given.
 */
public record Key(String name, Type type, Object defaultValue, String doc, List<Key> fields) {
    public enum Type { STRING, INT, DOUBLE, BOOL, STRING_LIST, MAP }

    public Key {
        fields = List.copyOf(fields);
        if ((type == Type.MAP) == fields.isEmpty()) {
            throw new IllegalArgumentException(name + ": a MAP key and only a MAP key has fields");
        }
    }

    public Key(String name, Type type, Object defaultValue, String doc) {
        this(name, type, defaultValue, doc, List.of());
    }

    /** A nested map, absent (null) unless the config gives it. */
    public static Key map(String name, String doc, Key... fields) {
        return new Key(name, Type.MAP, null, doc, List.of(fields));
    }

    /** The field of a MAP key named by its last dotted part, or null. */
    Key field(String shortName) {
        for (Key f : fields) {
            if (f.name().equals(name + "." + shortName)) {
                return f;
            }
        }
        return null;
    }

    /** The last part of the dotted name. */
    String shortName() {
        return name.substring(name.lastIndexOf('.') + 1);
    }

    /** Converts a YAML value or a {@code --set} string to this key's type, or explains why not. */
    Object coerce(Object value) {
        if (value == null) {
            return defaultValue;
        }
        switch (type) {
            case STRING:
                if (value instanceof String || value instanceof Number || value instanceof Boolean) {
                    return value.toString();
                }
                break;
            case INT:
                if (value instanceof Integer || value instanceof Long) {
                    return ((Number) value).longValue();
                }
                if (value instanceof String s) {
                    try {
                        return Long.parseLong(s.trim().replace("_", ""));
                    } catch (NumberFormatException e) {
                        break;
                    }
                }
                break;
            case DOUBLE:
                if (value instanceof Number n) {
                    return n.doubleValue();
                }
                if (value instanceof String s) {
                    try {
                        return Double.parseDouble(s.trim());
                    } catch (NumberFormatException e) {
                        break;
                    }
                }
                break;
            case BOOL:
                if (value instanceof Boolean) {
                    return value;
                }
                if (value instanceof String s && (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false"))) {
                    return Boolean.parseBoolean(s);
                }
                break;
            case STRING_LIST:
                if (value instanceof List<?> list) {
                    return list.stream().map(String::valueOf).toList();
                }
                if (value instanceof String s) {
                    return s.isBlank() ? List.of() : List.of(s.split(","));
                }
                break;
            case MAP:
                if (value instanceof String str && str.isBlank()) {
                    return null; // --set model.lora_config= removes a map the YAML gives
                }
                if (value instanceof Map<?, ?> map) {
                    return coerceMap(map);
                }
                break;
            default:
                break;
        }
        throw new ConfigException(name + " must be " + describe() + ", got " + quoted(value));
    }

    private Map<String, Object> coerceMap(Map<?, ?> map) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            Key f = field(String.valueOf(e.getKey()));
            if (f == null) {
                throw new ConfigException("unknown key '" + name + "." + e.getKey() + "'; known keys there: "
                        + fieldNames());
            }
            out.put(f.shortName(), f.coerce(e.getValue()));
        }
        for (Key f : fields) {
            if (!out.containsKey(f.shortName()) && f.defaultValue() != null) {
                out.put(f.shortName(), f.defaultValue());
            }
        }
        return Collections.unmodifiableMap(out);
    }

    String fieldNames() {
        StringBuilder known = new StringBuilder();
        for (Key f : fields) {
            known.append(known.length() == 0 ? "" : ", ").append(f.name());
        }
        return known.toString();
    }

    private String describe() {
        return switch (type) {
            case STRING -> "a string";
            case INT -> "an integer";
            case DOUBLE -> "a number";
            case BOOL -> "true or false";
            case STRING_LIST -> "a list of strings";
            case MAP -> "a map with the keys " + fieldNames();
        };
    }

    private static String quoted(Object value) {
        return value instanceof String ? "'" + value + "'" : String.valueOf(value) + " (" + value.getClass().getSimpleName() + ")";
    }
}
