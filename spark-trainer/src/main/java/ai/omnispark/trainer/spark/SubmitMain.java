package ai.omnispark.trainer.spark;

import ai.omnispark.trainer.cli.Main;

/**
 * The {@code spark-submit --class} entry: {@code CONFIG [--set key=value ...]}, trains on the
 * cluster spark-submit configured, prints the summary line and exits (Spark 3.5 leaves a
 * non-daemon barrier timer thread behind).
 */
public final class SubmitMain {
    private SubmitMain() {}

    public static void main(String[] args) {
        String[] argv = new String[args.length + 1];
        argv[0] = "train";
        System.arraycopy(args, 0, argv, 1, args.length);
        Main.main(argv);
    }
}
