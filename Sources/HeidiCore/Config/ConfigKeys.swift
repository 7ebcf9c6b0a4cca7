/// Every key heidid's config file accepts, section by section: the tables the reader's "unknown key" errors list,
/// and the rows of the configuration reference (docs/configuration.md), which `ConfigReferenceTests` checks against
/// them in both directions, so the reference cannot drift from the code.
public enum ConfigKeys {
    /// The top-level sections; `web` is heidi-web's (SPEC §12), which heidid accepts and leaves alone.
    public static let sections = [
        "pipeline", "paths", "control", "stage_defaults", "stages", "limits", "journal", "logs", "web",
    ]
    public static let pipeline = ["mode", "rounds", "run_unit_tests", "autostart", "recovery", "engine_env", "vars"]
    public static let paths = ["state_dir", "runtime_dir", "repo_root"]
    public static let control = ["socket", "group"]
    public static let stageDefaults = ["timeout", "stop_grace", "env"]
    /// The keys of one stage, `stages.<stage>.…`.
    public static let stage = [
        "command", "cwd", "env", "timeout", "stop_grace", "allow_failure", "retries", "retry_backoff",
        "retry_backoff_max", "no_retry_exit_codes", "rlimits", "watchdog", "progress", "executor", "queue_timeout",
        "slurm",
    ]
    /// The limits of `stages.<stage>.rlimits`.
    public static let rlimits = ["nofile", "as", "cpu", "core", "nproc"]
    /// The Slurm job settings of `stages.<stage>.slurm` (SPEC §13, docs/slurm.md).
    public static let slurm = [
        "partition", "account", "qos", "gpus", "gres", "nodes", "ntasks_per_node", "cpus_per_task",
        "mem", "time_limit", "requeue", "extra",
    ]
    public static let limits = ["max_cpu_pct", "max_mem_pct", "max_wait"]
    public static let journal = [
        "fsync", "batch_delay", "rotate_size", "keep_rotated", "key_file", "checkpoint_interval",
    ]
    public static let logs = ["max_size", "journald"]

    /// Every key heidid reads as a dotted path, `<stage>` standing for a stage's name, in the reference's order.
    public static var dotted: [String] {
        func prefixed(_ prefix: String, _ keys: [String]) -> [String] { keys.map { "\(prefix).\($0)" } }
        return prefixed("pipeline", pipeline) + prefixed("paths", paths) + prefixed("control", control)
            + prefixed("stage_defaults", stageDefaults) + prefixed("stages.<stage>", stage)
            + prefixed("stages.<stage>.rlimits", rlimits)
            + prefixed("stages.<stage>.slurm", slurm) + prefixed("limits", limits) + prefixed("journal", journal)
            + prefixed("logs", logs)
    }
}
