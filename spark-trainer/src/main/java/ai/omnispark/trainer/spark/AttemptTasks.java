package ai.omnispark.trainer.spark;

import ai.omnispark.parallel.comm.CommException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.scheduler.StageInfo;
import scala.collection.JavaConverters;

/**
 * The driver's view of one launch attempt's tasks, from Spark's listener bus: which are still
 * running, and how each failed one failed.
 *
 * <p>Spark fails a barrier stage at its first failed task and cancels the others asynchronously;
 * they may run on (writing checkpoints, holding sockets) after the job has failed. The driver
 * therefore relaunches only once {@link #awaitEnded} says every task of the attempt has ended.
 * And the first task to fail is often not the one to blame: when a rank fails on its own, its
 * peers fail a moment later on their next collective, and either may reach the driver first.
 * {@link #rootFailure} picks the earliest failure that is not a peer's consequence.
 */
final class AttemptTasks extends SparkListener {
    private static final String JOB_GROUP = "spark.jobGroup.id";
    private static final String COMM_EXCEPTION = CommException.class.getName();
    private static final long JOB_START_GRACE_MS = 5_000;

    /** How one task ended in failure. */
    record Failure(int rank, String className, String description, long finishTime) {
        boolean isConsequence() {
            return className.equals(COMM_EXCEPTION);
        }
    }

    private final String jobGroup;
    private final Set<Integer> stages = new HashSet<>();
    private final Set<Integer> jobs = new HashSet<>();
    private final Set<Integer> endedJobs = new HashSet<>();
    private final Map<Long, Integer> running = new HashMap<>();
    private final List<Failure> failures = new ArrayList<>();

    AttemptTasks(String jobGroup) {
        this.jobGroup = jobGroup;
    }

    @Override
    public synchronized void onJobStart(SparkListenerJobStart start) {
        Properties p = start.properties();
        if (p == null || !jobGroup.equals(p.getProperty(JOB_GROUP))) {
            return;
        }
        jobs.add(start.jobId());
        for (StageInfo s : JavaConverters.seqAsJavaList(start.stageInfos())) {
            stages.add(s.stageId());
        }
        notifyAll();
    }

    @Override
    public synchronized void onJobEnd(SparkListenerJobEnd end) {
        if (jobs.contains(end.jobId())) {
            endedJobs.add(end.jobId());
            notifyAll();
        }
    }

    @Override
    public synchronized void onTaskStart(SparkListenerTaskStart start) {
        if (stages.contains(start.stageId())) {
            running.put(start.taskInfo().taskId(), start.taskInfo().index());
        }
    }

    @Override
    public synchronized void onTaskEnd(SparkListenerTaskEnd end) {
        if (!stages.contains(end.stageId())) {
            return;
        }
        running.remove(end.taskInfo().taskId());
        if (end.reason() instanceof ExceptionFailure f) {
            failures.add(new Failure(end.taskInfo().index(), f.className(), f.description(),
                    end.taskInfo().finishTime()));
        }
        notifyAll();
    }

    /**
     * Waits until every job of the attempt has ended and every task it started has ended; returns
     * the ranks still running when {@code timeoutMs} ran out (empty when all ended). A job whose
     * start has not reached the listener within {@link #JOB_START_GRACE_MS} was never submitted.
     */
    synchronized List<Integer> awaitEnded(long timeoutMs) {
        long start = System.nanoTime();
        long deadline = start + timeoutMs * 1_000_000L;
        long jobDeadline = start + Math.min(timeoutMs, JOB_START_GRACE_MS) * 1_000_000L;
        // The job's end is posted after every task start of it: once it is seen, running is complete.
        while (jobs.isEmpty() ? System.nanoTime() < jobDeadline : !(endedJobs.containsAll(jobs) && running.isEmpty())) {
            long left = (jobs.isEmpty() ? jobDeadline : deadline) - System.nanoTime();
            if (left <= 0) {
                return running.values().stream().sorted().toList();
            }
            try {
                wait(Math.max(1, Math.min(left / 1_000_000, 100)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return running.values().stream().sorted().toList();
            }
        }
        return List.of();
    }

    /**
     * The failure to report: the earliest that is a rank's own (not a collective that found its
     * peer gone); the earliest of all if every one was; null if no task failed.
     */
    synchronized Failure rootFailure() {
        Comparator<Failure> byTime = Comparator.comparingLong(Failure::finishTime).thenComparingInt(Failure::rank);
        return failures.stream().filter(f -> !f.isConsequence()).min(byTime)
                .orElse(failures.stream().min(byTime).orElse(null));
    }
}
