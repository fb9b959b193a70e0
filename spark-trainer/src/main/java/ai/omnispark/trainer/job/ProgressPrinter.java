package ai.omnispark.trainer.job;

import ai.omnispark.trainer.loop.StepListener;
import ai.omnispark.trainer.loop.StepResult;
import java.io.PrintStream;
import java.util.Locale;

/** One line per logged step: step/total, loss, learning rate, grad norm, tokens/s and ETA. */
public final class ProgressPrinter implements StepListener {
    private final PrintStream out;
    private final int every;
    private final long startNanos = System.nanoTime();
    private long stepsSeen;

    private final boolean terminal;

    public ProgressPrinter(PrintStream out, int every) {
        this(out, every, false);
    }

    /** @param terminal rewrite one line in place (a console); false prints a line per logged step (logs) */
    public ProgressPrinter(PrintStream out, int every, boolean terminal) {
        this.out = out;
        this.every = every;
        this.terminal = terminal;
    }

    public static String line(StepResult r, long total, double etaSeconds) {
        return String.format(Locale.ROOT, "step %d/%d loss %.4f lr %.3e grad_norm %.3f tokens/s %.0f eta %s",
                r.step(), total, r.loss(), r.lr(), r.gradNorm(), r.tokensPerSecond(), eta(etaSeconds));
    }

    private static String eta(double seconds) {
        long s = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }

    @Override
    public void onStep(StepResult r, long total) {
        stepsSeen++;
        if (r.step() % every == 0 || r.step() == total) {
            double elapsed = (System.nanoTime() - startNanos) / 1e9;
            double eta = elapsed / stepsSeen * (total - r.step());
            if (terminal) {
                out.print("\r" + line(r, total, eta) + "\u001b[K" + (r.step() == total ? "\n" : ""));
                out.flush();
            } else {
                out.println(line(r, total, eta));
            }
        }
    }
}
