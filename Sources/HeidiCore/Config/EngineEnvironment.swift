/// The variables the original engine's `scripts/loop.sh` exported to its stage scripts (SPEC §11), for
/// `pipeline.engine_env: true`. The run's own values come from the run: `OUT_DIR` and `AUTOTRAIN_DIR` are the run
/// directory (02 refuses paths outside `OUT_DIR`, and every data file of the run lives there), `RUN_ID`, `ROUND`,
/// `ROUNDS`, `PIPELINE_MODE`, `RUN_UNIT_TESTS` (`1`/`0`) and `SAMPLES_PER_ROUND` (`{samples}`). The settings come from
/// `pipeline.vars`: a var named like one of loop.sh's variables in lower case (`train_steps` → `TRAIN_STEPS`,
/// `lora_r` → `LORA_R`, `seed` → `SEED` and `PYTHONHASHSEED`) is exported under that name, so a command's
/// `{train_steps}` and the script's `$TRAIN_STEPS` always agree. The daemon's environment overrides those vars
/// (loop.sh's "every value can be overridden from the environment"); a stage's own `env` wins over all of them.
public enum EngineEnvironment {
    /// `pipeline.vars` keys and the variables each is exported as (common.sh's settings the scripts read).
    public static let settings: [String: [String]] = {
        var table: [String: [String]] = [
            "samples": ["SAMPLES_PER_ROUND"], "seed": ["SEED", "PYTHONHASHSEED", "CUDA_SEED_ALL"],
        ]
        for name in [
            "BASE_MODEL", "TEACHER_MODEL", "TEACHER_BACKEND", "LANGUAGE", "VAL_RATIO", "SEQ_LEN", "BATCH_SIZE",
            "GRAD_ACCUM",
            "TRAIN_STEPS", "SAVE_STEPS", "EVAL_STEPS", "LR", "LORA_R", "LORA_ALPHA", "LORA_DROPOUT",
            "QUANTIZATION_BITS",
            "MAX_INPUT_LENGTH", "MAX_OUTPUT_LENGTH", "MIN_INPUT_LENGTH", "MIN_OUTPUT_LENGTH", "MAX_DUPLICATE_RATIO",
            "SECRET_DROP_THRESHOLD", "UNIT_TEST_TIMEOUT", "MAX_REQUESTS", "SLEEP_BETWEEN_REQUESTS", "OPENHEI_ATTACH",
            "OPENHEI_AGENT", "TEACHER_WORKERS", "TEACHER_BATCH_SIZE", "TEACHER_MAX_TOKENS", "TEACHER_MAX_OUTPUT_CHARS",
            "TEACHER_MAX_PROMPT_CHARS",
        ] {
            table[name.lowercased()] = [name]
        }
        return table
    }()

    /// The variables of the run's own state, always exported with `engine_env`.
    public static let runVariables = [
        "OUT_DIR", "AUTOTRAIN_DIR", "RUN_ID", "ROUND", "ROUNDS", "PIPELINE_MODE", "RUN_UNIT_TESTS",
    ]

    /// The environment for one stage, from its placeholder values (`Placeholders.values`).
    public static func variables(_ values: [String: String], runUnitTests: Bool) -> [String: String] {
        var result: [String: String] = [:]
        for (key, names) in settings {
            guard let value = values[key] else { continue }
            for name in names { result[name] = value }
        }
        result["OUT_DIR"] = values["run_dir"]
        result["AUTOTRAIN_DIR"] = values["run_dir"]
        result["RUN_ID"] = values["run_id"]
        result["ROUND"] = values["round"]
        result["ROUNDS"] = values["rounds"]
        result["PIPELINE_MODE"] = values["mode"]
        result["RUN_UNIT_TESTS"] = runUnitTests ? "1" : "0"
        return result
    }

    /// The daemon's environment overrides the vars named like loop.sh's settings (`SAMPLES_PER_ROUND` is read, with
    /// its check, by `EnvironmentOverrides`).
    static func applyOverrides(_ environment: [String: String], to config: inout HeidiConfig) {
        guard config.engineEnvironment else { return }
        for (key, names) in settings where key != "samples" {
            if let value = environment[names[0]], !value.isEmpty { config.vars[key] = value }
        }
    }
}
