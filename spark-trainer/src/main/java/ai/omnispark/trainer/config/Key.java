package ai.omnispark.trainer.config;

import java.util.List;

/**
 * One configuration key: its dotted name, type, default and description. The list of keys in
 * {@link Keys} is the schema; anything else in a config file is an error.
 */
public record Key(String name, Type type, Object defaultValue, String doc) {
    public enum Type { STRING, INT, DOUBLE, BOOL, STRING_LIST }

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
            default:
                break;
        }
        throw new ConfigException(name + " must be " + describe() + ", got " + quoted(value));
    }

    private String describe() {
        return switch (type) {
            case STRING -> "a string";
            case INT -> "an integer";
            case DOUBLE -> "a number";
            case BOOL -> "true or false";
            case STRING_LIST -> "a list of strings";
        };
    }

    private static String quoted(Object value) {
        return value instanceof String ? "'" + value + "'" : String.valueOf(value) + " (" + value.getClass().getSimpleName() + ")";
    }
}
