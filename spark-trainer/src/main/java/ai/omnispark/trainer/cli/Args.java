package ai.omnispark.trainer.cli;

import ai.omnispark.trainer.config.ConfigException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Command-line words: positional arguments, {@code --name value} options, {@code --name} flags
 * (which take no value) and repeated {@code --set}.
 */
final class Args {
    final List<String> positional = new ArrayList<>();
    final Map<String, String> options = new LinkedHashMap<>();
    final java.util.Set<String> flags = new java.util.LinkedHashSet<>();
    final List<String> sets = new ArrayList<>();

    static Args parse(String[] argv, int from, List<String> allowed) {
        return parse(argv, from, allowed, List.of());
    }

    /** As {@link #parse(String[], int, List)}, with {@code allowedFlags} taking no value. */
    static Args parse(String[] argv, int from, List<String> allowed, List<String> allowedFlags) {
        Args a = new Args();
        for (int i = from; i < argv.length; i++) {
            String w = argv[i];
            if (w.startsWith("--")) {
                String name = w.substring(2);
                if (allowedFlags.contains(name)) {
                    a.flags.add(name);
                    continue;
                }
                String value;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    value = name.substring(eq + 1);
                    name = name.substring(0, eq);
                    if (allowedFlags.contains(name)) {
                        throw new ConfigException("--" + name + " is a flag and takes no value, got '" + value + "'");
                    }
                } else {
                    if (i + 1 >= argv.length) {
                        throw new ConfigException("option --" + name + " needs a value");
                    }
                    value = argv[++i];
                }
                if (name.equals("set")) {
                    a.sets.add(value);
                } else if (allowed.contains(name)) {
                    a.options.put(name, value);
                } else {
                    List<String> known = new ArrayList<>(allowed);
                    known.addAll(allowedFlags);
                    throw new ConfigException("unknown option --" + name + "; options here: --set"
                            + (known.isEmpty() ? "" : ", --" + String.join(", --", known)));
                }
            } else {
                a.positional.add(w);
            }
        }
        return a;
    }

    /** Whether flag {@code name} was given. */
    boolean flag(String name) {
        return flags.contains(name);
    }

    String option(String name, String fallback) {
        return options.getOrDefault(name, fallback);
    }

    /** Option {@code name}, or {@code fallback} when absent, as an integer > 0; else refused naming the option. */
    int positiveInt(String name, String fallback) {
        String text = option(name, fallback);
        int v;
        try {
            v = Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("--" + name + " must be an integer, got '" + text + "'");
        }
        if (v <= 0) {
            throw new ConfigException("--" + name + " must be > 0, got " + v);
        }
        return v;
    }

    String required(String name) {
        String v = options.get(name);
        if (v == null) {
            throw new ConfigException("missing --" + name);
        }
        return v;
    }
}
