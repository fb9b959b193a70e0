package ai.omnispark.trainer.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.testing.CheckpointDamage;
import ai.omnispark.trainer.testing.TinyModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resuming over a damaged newest checkpoint, as a user would after a disk or copy error: with
 * {@code auto} every rank must fall back to the newest checkpoint that verifies (our own per-file
 * CRC-32, with Hadoop's {@code .crc} side files removed so they cannot be what catches it), say which
 * it skipped and why, and then train exactly like a run resumed from that checkpoint on purpose. An
 * explicit path to the damaged checkpoint fails with the damaged file's name, before any rank says
 * "resumed".
 */
class CorruptCheckpointResumeTest {
    @TempDir
    static Path dir;

    static Path modelConfig;

    @BeforeAll
    static void writeModel() throws IOException {
        modelConfig = TinyModel.write(dir, false);
    }

    private static Settings settings(String out, String... sets) {
        List<String> all = new ArrayList<>(List.of(
                "model.config_path=" + modelConfig, "data.train_path=synthetic://text", "data.max_seq_len=64",
                "train.output_dir=" + dir.resolve(out), "train.global_batch_size=4", "train.micro_batch_size=1",
                "train.lr=1e-3", "train.threads=1", "train.comm_timeout_s=30", "train.world_size=2",
                "train.save_steps=2", "train.save_hf_weights=false"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    private record Run(Map<Long, Double> losses, String console) {}

    private static Run train(Settings s) throws Exception {
        Map<Long, Double> losses = Collections.synchronizedMap(new TreeMap<>());
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        LocalLauncher.run(s, (StepResult r, long total) -> losses.put(r.step(), r.loss()),
                new PrintStream(console, true, StandardCharsets.UTF_8), 0);
        return new Run(new TreeMap<>(losses), console.toString(StandardCharsets.UTF_8));
    }

    /**
     * Trains 4 steps (checkpoints 2 and 4), damages step 4 with {@code damage}, resumes with
     * {@code auto} to step 6 and checks it resumed from step 2 exactly as a run told to resume from
     * step 2 does; returns the resumed run's console.
     */
    private String fallsBackToStepTwo(String out, Consumer<Path> damage) throws Exception {
        train(settings(out, "train.max_steps=4"));
        Path ckpts = dir.resolve(out).resolve("checkpoints");
        Path intact = dir.resolve(out + "-reference");
        copyTree(ckpts, intact.resolve("checkpoints"));
        damage.accept(ckpts.resolve("global_step_4"));
        Run resumed = train(settings(out, "train.max_steps=6", "train.load_checkpoint_path=auto"));
        Run reference = train(settings(out + "-reference", "train.max_steps=6",
                "train.load_checkpoint_path=" + intact.resolve("checkpoints/global_step_2")));
        assertTrue(resumed.console().contains("skipping ") && resumed.console().contains("global_step_4"),
                resumed.console());
        assertTrue(resumed.console().contains("global_step_2 at step 2"), resumed.console());
        assertEquals(List.of(3L, 4L, 5L, 6L), new ArrayList<>(resumed.losses().keySet()), resumed.console());
        // Bit for bit: the fallback is an ordinary resume from step 2.
        assertEquals(reference.losses(), resumed.losses());
        return resumed.console();
    }

    @Test
    void aFlippedByteInTheNewestCheckpointFallsBackToTheOneBefore() throws Exception {
        String console = fallsBackToStepTwo("flipped",
                step -> CheckpointDamage.flipByte(step.resolve("model/shard-00001-of-00002.safetensors")));
        assertTrue(console.contains("shard-00001-of-00002.safetensors") && console.contains("corrupt"), console);
    }

    @Test
    void aMissingShardFileFallsBackToTheOneBefore() throws Exception {
        String console = fallsBackToStepTwo("missing",
                step -> CheckpointDamage.delete(step.resolve("optimizer/shard-00000-of-00002.safetensors")));
        assertTrue(console.contains("shard-00000-of-00002.safetensors") && console.contains("missing"), console);
    }

    @Test
    void aTruncatedIndexFallsBackToTheOneBefore() throws Exception {
        String console = fallsBackToStepTwo("truncated",
                step -> CheckpointDamage.truncate(step.resolve("model/index.json")));
        assertTrue(console.contains("index.json") && console.contains("not valid JSON"), console);
    }

    @Test
    void anExplicitlyChosenDamagedCheckpointFailsNamingTheFileBeforeAnyRankResumes() throws Exception {
        train(settings("explicit", "train.max_steps=4"));
        Path step4 = dir.resolve("explicit/checkpoints/global_step_4");
        CheckpointDamage.flipByte(step4.resolve("model/shard-00001-of-00002.safetensors"));
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        Exception e = assertThrows(Exception.class, () -> LocalLauncher.run(
                settings("explicit", "train.max_steps=6", "train.load_checkpoint_path=" + step4),
                (r, total) -> {}, new PrintStream(console, true, StandardCharsets.UTF_8), 0));
        String printed = console.toString(StandardCharsets.UTF_8);
        assertTrue(e.getMessage().contains("shard-00001-of-00002.safetensors") && e.getMessage().contains("corrupt"),
                e.toString());
        assertFalse(e.getMessage().contains("closed its communicator"), e.toString());
        assertFalse(printed.contains("resumed from"), printed);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (var files = Files.walk(from)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }
}
