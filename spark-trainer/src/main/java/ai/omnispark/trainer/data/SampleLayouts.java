package ai.omnispark.trainer.data;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.trainer.config.ConfigException;
import java.io.IOException;
import java.util.Set;
import java.util.TreeSet;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The driver's check that a model family can take a dataset's rows, made before any rank starts:
 * a text model pointed at image shards fails here, naming both, instead of in its first batch.
 */
public final class SampleLayouts {
    private SampleLayouts() {}

    /** The layout the manifest of the prepared dataset at {@code dataset} declares (or its schema implies). */
    public static SampleLayout of(FileSystem fs, Path dataset) throws IOException {
        return Manifest.read(fs, dataset).orElseThrow(() -> new IOException(dataset + " has no "
                + Manifest.FILE_NAME + ": it is not a prepared dataset, or preparing it did not finish")).layout();
    }

    /**
     * Throws a {@link ConfigException} naming the dataset, its layout and the family when
     * {@code accepted} (the layouts the family's collator takes) lacks {@code layout}.
     */
    public static void check(String dataset, SampleLayout layout, String family, Set<SampleLayout> accepted) {
        if (accepted.isEmpty()) {
            throw new IllegalArgumentException("the " + family + " family declares no sample layout it takes");
        }
        if (!accepted.contains(layout)) {
            TreeSet<String> keys = new TreeSet<>();
            accepted.forEach(l -> keys.add(l.key()));
            throw new ConfigException("dataset " + dataset + " holds " + layout.key() + " rows; the " + family
                    + " family takes only " + keys + " (point data.train_path at such a dataset, or train a model"
                    + " whose family takes " + layout.key() + ")");
        }
    }
}
