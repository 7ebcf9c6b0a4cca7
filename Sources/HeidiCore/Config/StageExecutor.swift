/// Where a stage's command runs (`executor:` of a stage): on this machine as heidid's supervised child (the default),
/// or as a batch job on a Slurm cluster (docs/slurm.md). The engine passes it through to the launcher it was given;
/// only the launcher knows what a Slurm job is.
public enum StageExecutor: Sendable, Equatable {
    case local
    case slurm(SlurmJobSettings)

    /// `local` or `slurm`: the value of `executor:`.
    public var name: String {
        switch self {
        case .local: return "local"
        case .slurm: return "slurm"
        }
    }
}

/// A stage's `slurm:` settings: what heidi passes to `sbatch` besides what it controls itself (job name, output file,
/// `--parsable`, the batch script and its argv). Every value is validated at config load (`SlurmSettingsReader`).
public struct SlurmJobSettings: Sendable, Equatable {
    public var partition: String?
    public var account: String?
    public var qos: String?
    /// `--gpus` (`2` or `a100:2`); exclusive with `gres`.
    public var gpus: String?
    /// `--gres` (`gpu:1`, `gpu:a100:2,shard:1`).
    public var gres: String?
    public var nodes: Int?
    public var ntasksPerNode: Int?
    public var cpusPerTask: Int?
    /// `--mem` as Slurm writes it (`16G`, `500M`).
    public var mem: String?
    /// Slurm's own `--time` in seconds: a backstop above heidi's `timeout` (nil: timeout + stop_grace + 60 s).
    public var timeLimit: Double?
    /// `--requeue` / `--no-requeue` (nil: the cluster's default).
    public var requeue: Bool?
    /// Further `sbatch` options, passed as given (none may set what heidi controls: `ForbiddenOption`).
    public var extra: [String]

    public init(
        partition: String? = nil,
        account: String? = nil,
        qos: String? = nil,
        gpus: String? = nil,
        gres: String? = nil,
        nodes: Int? = nil,
        ntasksPerNode: Int? = nil,
        cpusPerTask: Int? = nil,
        mem: String? = nil,
        timeLimit: Double? = nil,
        requeue: Bool? = nil,
        extra: [String] = []
    ) {
        self.partition = partition
        self.account = account
        self.qos = qos
        self.gpus = gpus
        self.gres = gres
        self.nodes = nodes
        self.ntasksPerNode = ntasksPerNode
        self.cpusPerTask = cpusPerTask
        self.mem = mem
        self.timeLimit = timeLimit
        self.requeue = requeue
        self.extra = extra
    }

    /// The `sbatch` options heidi sets itself, long and short spellings: an `extra` entry naming one is refused, since
    /// it would break how heidi names, finds, reads or runs the job.
    public static let controlledOptions: [(long: String, short: String?, why: String)] = [
        (
            "--job-name", "-J",
            "heidi names the job after run, round, stage and attempt, and finds it by that name after a restart"
        ),
        ("--output", "-o", "heidi reads the job's output from the file it chose"),
        ("--error", "-e", "heidi reads stderr from the output file it chose"),
        ("--open-mode", nil, "heidi appends so a requeued job's output is kept"),
        ("--parsable", nil, "heidi parses sbatch's answer itself"),
        ("--wrap", nil, "heidi submits its own batch script, which execs the stage's argv unchanged"),
        ("--chdir", "-D", "the stage's cwd sets the working directory"),
        ("--export", nil, "heidi passes the stage's environment"),
        ("--wait", "-W", "heidi watches the job itself; a blocked sbatch would not survive a heidid restart"),
        ("--array", "-a", "a stage is one job"),
        ("--time", "-t", "use slurm.time_limit (a backstop above timeout)"),
    ]

    /// Why `option` (one `extra` entry) may not be given, or nil when it may.
    public static func refusal(of option: String) -> String? {
        for controlled in controlledOptions {
            if option == controlled.long || option.hasPrefix(controlled.long + "=") {
                return "\(controlled.long) is set by heidi: \(controlled.why)"
            }
            if let short = controlled.short, option.hasPrefix(short) {
                return "\(short) (\(controlled.long)) is set by heidi: \(controlled.why)"
            }
        }
        return nil
    }
}
