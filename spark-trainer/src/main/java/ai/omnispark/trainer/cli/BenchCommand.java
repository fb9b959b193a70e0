package ai.omnispark.trainer.cli;

import ai.omnispark.trainer.config.ConfigException;
import java.io.PrintStream;
import java.util.Arrays;

/** {@code bench train|comm|data|fsdp ...}: benchmarks that print JSON lines. */
final class BenchCommand {
    private BenchCommand() {}

    static int run(String[] argv, PrintStream out, PrintStream err) throws Exception {
        if (argv.length == 0) {
            throw new ConfigException("bench needs a target: train, fsdp or comm");
        }
        String[] rest = Arrays.copyOfRange(argv, 1, argv.length);
        switch (argv[0]) {
            case "train":
                return BenchTrain.run(rest, out, err);
            case "fsdp":
                return BenchFsdp.run(rest, out);
            case "comm":
                ai.omnispark.parallel.comm.CommBench.main(rest);
                return 0;
            default:
                throw new ConfigException("unknown bench target '" + argv[0] + "'; targets: train, fsdp, comm");
        }
    }
}
