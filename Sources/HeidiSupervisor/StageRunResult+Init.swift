import HeidiCore

extension StageRunResult {
    /// A result made outside this module for a stage that was no local child (a batch job's handle): no survivors,
    /// no cgroup.
    public init(
        remote ending: StageEnding,
        exit: ExitInfo,
        wallMilliseconds: Int64,
        outputLines: Int64,
        outputBytes: Int64,
        excerpt: String,
        progress: StageProgress?
    ) {
        self.ending = ending
        self.exit = exit
        self.wallMilliseconds = wallMilliseconds
        self.outputLines = outputLines
        self.outputBytes = outputBytes
        self.excerpt = excerpt
        self.survivors = []
        self.cgroupUsage = nil
        self.progress = progress
    }
}
