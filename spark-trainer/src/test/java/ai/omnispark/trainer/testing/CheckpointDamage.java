package ai.omnispark.trainer.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Damage done to checkpoint files on the local disk as a user's disk or copy would do it. Each also
 * removes Hadoop's {@code .crc} side file, as a copy to S3 would, so the trainer's own checksums
 * must be what catches it.
 */
public final class CheckpointDamage {
    private CheckpointDamage() {}

    /** Flips one bit of a byte near the end (in the tensor data). */
    public static void flipByte(Path file) {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            long at = f.length() - 5;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x01);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        dropCrc(file);
    }

    public static void delete(Path file) {
        try {
            Files.delete(file);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        dropCrc(file);
    }

    /** Keeps the first half of the file. */
    public static void truncate(Path file) {
        try {
            byte[] all = Files.readAllBytes(file);
            Files.write(file, java.util.Arrays.copyOf(all, all.length / 2));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        dropCrc(file);
    }

    private static void dropCrc(Path file) {
        try {
            Files.deleteIfExists(file.resolveSibling("." + file.getFileName() + ".crc"));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
