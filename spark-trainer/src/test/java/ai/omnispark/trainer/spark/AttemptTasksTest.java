package ai.omnispark.trainer.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.parallel.comm.CommException;
import java.io.Serializable;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.collection.Iterator;
import scala.runtime.AbstractFunction1;
import scala.reflect.ClassTag$;

/**
 * What the driver learns of a failed barrier attempt, on real (local) Spark: Spark fails the job
 * at the first failed task and does not wait for the others, which run on; {@link AttemptTasks}
 * must report them as running until they end, and name the rank whose own failure it was although
 * its peer's echo fails too.
 */
class AttemptTasksTest {
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("omnispark-attempt-tasks")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** Rank 1 fails on its own at once; rank 0 ignores cancellation for 3 s, then fails on its peer. */
    static final class Straggle extends AbstractFunction1<Iterator<Integer>, Iterator<String>> implements Serializable {
        private static final long serialVersionUID = 1L;

        @Override
        public Iterator<String> apply(Iterator<Integer> ignored) {
            int rank = BarrierTaskContext.get().partitionId();
            if (rank == 1) {
                throw new IllegalStateException("rank 1's own failure");
            }
            long until = System.nanoTime() + 3_000_000_000L;
            while (System.nanoTime() < until) {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    // a rank deep in native code does not notice an interrupt either
                }
            }
            throw new CommException("allReduce", 0, 1, "rank 1 closed its communicator before joining");
        }
    }

    @Test
    void reportsTheStragglerUntilItEndsAndBlamesTheRankThatFailedOnItsOwn() {
        SparkContext sc = spark.sparkContext();
        String group = "attempt-tasks-test";
        AttemptTasks tasks = new AttemptTasks(group);
        sc.addSparkListener(tasks);
        sc.setJobGroup(group, "straggler", true);
        try {
            long start = System.nanoTime();
            assertThrows(Exception.class, () -> new JavaSparkContext(sc).parallelize(List.of(0, 1), 2).rdd()
                    .barrier().mapPartitions(new Straggle(), false, ClassTag$.MODULE$.apply(String.class)).collect());
            long failedMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(failedMs < 2500, "Spark waited " + failedMs + " ms for the straggler: the test proves nothing");
            assertEquals(List.of(0), tasks.awaitEnded(200), "rank 0 still runs after the job failed");
            assertEquals(List.of(), tasks.awaitEnded(20_000));
            long endedMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(endedMs >= 2900, "reported ended after " + endedMs + " ms, before the straggler ended");
            AttemptTasks.Failure root = tasks.rootFailure();
            assertEquals(1, root.rank(), root.toString());
            assertEquals(IllegalStateException.class.getName(), root.className());
            assertEquals("rank 1's own failure", root.description());
        } finally {
            sc.clearJobGroup();
            sc.removeSparkListener(tasks);
        }
    }
}
