package ai.omnispark.trainer.plan;

import java.io.PrintStream;
import java.util.Locale;

/** The ranked plan table as text: one line per candidate, the chosen one marked, then the verdict. */
public final class PlanTable {
    private PlanTable() {}

    public static void print(Planner.Ranking ranking, PrintStream out) {
        out.println(String.format(Locale.ROOT, "%-4s %-28s %10s %10s %10s %10s %10s %10s %9s %9s %11s  %s", "rank",
                "plan", "total", "weights", "grads", "optim+mask", "activ", "gather", "compute", "comm",
                "tok/s/rank", "verdict"));
        int i = 1;
        Planner.Row chosen = ranking.chosen();
        for (Planner.Row r : ranking.rows()) {
            Estimate e = r.estimate();
            String verdict = r == chosen ? "CHOSEN" : r.fits() ? "fits" : r.rejection();
            if (e == null) {
                out.println(String.format(Locale.ROOT, "%-4s %-28s %s", "-", r.candidate().label(),
                        "refused: " + verdict));
                continue;
            }
            StateMemory s = e.state();
            out.println(String.format(Locale.ROOT, "%-4d %-28s %10s %10s %10s %10s %10s %10s %7.1fms %7.1fms %11.1f  %s",
                    i++, r.candidate().label(), gib(e.memoryBytes()), gib(s.weightBytes()), gib(s.gradBytes()),
                    gib(s.optimizerBytes() + s.maskBytes()), gib(e.activationBytes()), gib(e.gatherBytes()),
                    e.computeMs(), e.commMs(), e.tokensPerSecondPerRank(), verdict));
        }
        String why = ranking.cannotFit();
        out.println(why != null ? "plan: " + why : "plan: chosen " + chosen.candidate().label() + " (step "
                + String.format(Locale.ROOT, "%.1f ms, %s per rank)", chosen.estimate().stepMs(),
                        gib(chosen.estimate().memoryBytes())));
    }

    /** Bytes as GiB (MiB below one GiB), two decimals. */
    public static String gib(long bytes) {
        double g = bytes / (double) (1L << 30);
        return g >= 1 ? String.format(Locale.ROOT, "%.2fG", g)
                : String.format(Locale.ROOT, "%.2fM", bytes / (double) (1L << 20));
    }
}
