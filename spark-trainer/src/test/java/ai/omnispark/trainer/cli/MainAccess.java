package ai.omnispark.trainer.cli;

import java.io.PrintStream;

/** Lets tests in other packages run CLI commands without exiting the JVM. */
public final class MainAccess {
    private MainAccess() {}

    public static int run(String[] argv, PrintStream out) {
        return Main.run(argv, out, out);
    }
}
