package ai.omnispark.trainer.config;

import ai.omnispark.trainer.config.Key.Type;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Every configuration key OmniSpark reads. VeOmni's names where it has one. See docs/config.md. */
public final class Keys {
    private Keys() {}

    public static final List<Key> ALL = List.of(
            new Key("model.config_path", Type.STRING, "", "HF config.json (or a folder with one) to build the model from, with fresh weights"),
            new Key("model.model_path", Type.STRING, "", "HF folder (config.json + model.safetensors) to load config and weights from"),
            new Key("model.tokenizer_path", Type.STRING, "", "HF tokenizer.json; empty = the built-in byte tokenizer"),
            new Key("model.attention_impl", Type.STRING, "auto", "attention kernel: auto | sdpa | chunked | eager"),
            new Key("model.loss_chunk_tokens", Type.INT, 0L, "tokens per chunk of the loss's output projection (the [tokens x vocab] logits never exist whole); 0 = auto, a chunk's logits within 256 MiB"),

            new Key("data.train_path", Type.STRING, "", "training data: a JSON-lines file or folder of raw samples"),
            new Key("data.data_type", Type.STRING, "plaintext", "plaintext | conversation | image_text | video_text"),
            new Key("data.max_seq_len", Type.INT, 512L, "tokens per packed row"),
            new Key("data.eos_token", Type.STRING, "<|endoftext|>", "with model.tokenizer_path: the token appended after each document"),
            new Key("data.pad_token", Type.STRING, "", "with model.tokenizer_path: the token filling row tails; empty = data.eos_token"),
            new Key("data.text_keys", Type.STRING, "text", "column (JSON key) holding the text"),
            new Key("data.output_path", Type.STRING, "", "where raw data.train_path is prepared into Arrow shards; empty = OUTPUT_DIR/data"),
            new Key("data.format", Type.STRING, "json", "raw input format for the prepare step: json (lines) | parquet"),
            new Key("data.max_reject_ratio", Type.DOUBLE, 0.1, "prepare fails (nothing published) when a larger share of records is rejected"),
            new Key("data.overflow", Type.STRING, "truncate", "over-long text documents: truncate | reject"),
            new Key("data.num_shards", Type.INT, 0L, "Arrow shards the prepare step writes; 0 = one per input partition"),
            new Key("data.rows_per_batch", Type.INT, 256L, "packed rows per Arrow record batch"),
            new Key("data.messages_key", Type.STRING, "messages", "column holding the messages of a conversation"),
            new Key("data.image_key", Type.STRING, "image", "column holding an image (path, bytes or list)"),
            new Key("data.video_key", Type.STRING, "video", "column holding a video (path or bytes)"),
            new Key("data.min_pixels", Type.INT, 3136L, "smallest area an image or frame is resized to"),
            new Key("data.max_pixels", Type.INT, 1003520L, "largest area an image or frame is resized to"),
            new Key("data.fps", Type.DOUBLE, 2.0, "video frames sampled per second"),
            new Key("data.max_frames", Type.INT, 16L, "most frames taken from one video"),

            new Key("train.output_dir", Type.STRING, "runs/default", "where metrics, checkpoints and the final HF folder go"),
            new Key("train.global_batch_size", Type.INT, 8L, "rows per optimizer step, over all data-parallel ranks"),
            new Key("train.micro_batch_size", Type.INT, 8L, "rows per forward/backward on one rank"),
            new Key("train.lr", Type.DOUBLE, 1e-3, "peak learning rate"),
            new Key("train.lr_min", Type.DOUBLE, 0.0, "learning rate at the end of decay"),
            new Key("train.lr_warmup_ratio", Type.DOUBLE, 0.0, "fraction of the steps spent in linear warmup"),
            new Key("train.lr_decay_style", Type.STRING, "constant", "constant | cosine | linear"),
            new Key("train.weight_decay", Type.DOUBLE, 0.0, "AdamW decoupled weight decay (matrices only)"),
            new Key("train.beta1", Type.DOUBLE, 0.9, "AdamW beta1"),
            new Key("train.beta2", Type.DOUBLE, 0.95, "AdamW beta2"),
            new Key("train.eps", Type.DOUBLE, 1e-8, "AdamW epsilon"),
            new Key("train.max_grad_norm", Type.DOUBLE, 1.0, "global gradient-norm clip; 0 disables"),
            new Key("train.max_steps", Type.INT, 0L, "optimizer steps; 0 = num_train_epochs over the data"),
            new Key("train.num_train_epochs", Type.INT, 1L, "epochs when max_steps is 0"),
            new Key("train.save_steps", Type.INT, 0L, "checkpoint every N steps; 0 = only at the end"),
            new Key("train.seed", Type.INT, 42L, "seed of initialisation and data order"),
            new Key("train.log_steps", Type.INT, 1L, "print a progress line every N steps"),
            new Key("train.enable_gradient_checkpointing", Type.BOOL, false, "recompute block activations in backward"),
            new Key("train.threads", Type.INT, 0L, "intra-op threads per rank; 0 = cores / ranks"),
            new Key("train.tensorboard_dir", Type.STRING, "", "also write each step's metrics as TensorBoard scalars (event files) here; empty = off"),
            new Key("train.save_hf_weights", Type.BOOL, true, "write hf_ckpt/ in each checkpoint and OUTPUT_DIR/final_hf at the end"),
            new Key("train.world_size", Type.INT, 0L, "training ranks (barrier tasks); 0 = every task slot, 2 in local mode"),
            new Key("train.data_parallel_mode", Type.STRING, "fsdp", "fsdp | ddp | none (none needs world_size 1)"),
            new Key("train.data_parallel_shard_size", Type.INT, 0L, "ranks a unit is sharded over; 0 = world_size / replicate size"),
            new Key("train.data_parallel_replicate_size", Type.INT, 1L, "replicas of the shard group (HSDP when > 1)"),
            new Key("train.enable_full_shard", Type.BOOL, true, "free gathered parameters after forward and gather again in backward"),
            new Key("train.enable_mixed_precision", Type.BOOL, false, "not implemented yet (training runs in fp32); true is refused"),
            new Key("train.save_total_limit", Type.INT, 0L, "keep only the newest K checkpoints; 0 = keep all"),
            new Key("train.async_save", Type.BOOL, false, "write checkpoints from a background thread while training goes on"),
            new Key("train.load_checkpoint_path", Type.STRING, "", "a global_step_N folder to resume from, or auto = the latest under output_dir"),
            new Key("train.resume_policy", Type.STRING, "strict", "strict (refuse a checkpoint whose model, data or parallel configuration differs, naming the keys) | allow_changes (resume anyway and print the differences)"),
            new Key("train.enable_profiling", Type.BOOL, false, "record a Chrome trace of the profiled steps on every rank, merged into OUTPUT_DIR/profile/trace.json"),
            new Key("train.profile_start_step", Type.INT, 1L, "profiling starts once this many steps are done"),
            new Key("train.profile_end_step", Type.INT, 2L, "profiling stops after this step: it records steps profile_start_step + 1 to profile_end_step"),
            new Key("train.max_restarts", Type.INT, 0L, "relaunch a failed job this many times, resuming from the latest checkpoint"),
            new Key("debug.fail_at_step", Type.INT, 0L, "tests only: the last rank fails before this step, in the first attempt only"),
            new Key("train.comm_transport", Type.STRING, "auto", "auto (in-process when the ranks share a JVM, Unix domain sockets between JVMs of one host, else TCP) | in_process | unix (sockets, Unix domain ones on one host) | tcp (TCP even on one host)"),
            new Key("train.comm_tcp_congestion", Type.STRING, "auto", "TCP congestion control of the collective links: auto (reno on links to this host, which go over loopback, where pacing only costs CPU; the system's elsewhere) | system | an algorithm the host allows, e.g. reno, cubic, bbr"),
            new Key("train.comm_timeout_s", Type.INT, 600L, "seconds any collective may wait for a peer before the job fails"));

    private static final Map<String, Key> BY_NAME = index();

    private static Map<String, Key> index() {
        Map<String, Key> map = new LinkedHashMap<>();
        for (Key k : ALL) {
            map.put(k.name(), k);
        }
        return map;
    }

    public static Key get(String name) {
        return BY_NAME.get(name);
    }

    /** Sections a config may have. */
    public static final List<String> SECTIONS = List.of("model", "data", "train", "debug");
}
