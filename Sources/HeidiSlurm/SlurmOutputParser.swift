/// Reads what Slurm's commands print (pure: the tests feed it captured output). Formats are the ones
/// `SlurmCommandLine` asks for: `sbatch --parsable`, `squeue --Format` and `sacct --parsable2` with `|` between
/// fields, and `scontrol show job --oneliner`.
public enum SlurmOutputParser {
    /// The job id `sbatch --parsable` printed (`1234` or `1234;cluster`).
    public static func submittedJobID(_ output: String) -> String? {
        let line = output.split(whereSeparator: \.isNewline).last { !$0.allSatisfy(\.isWhitespace) } ?? ""
        let id = line.split(separator: ";").first.map { trim($0) } ?? ""
        return !id.isEmpty && id.allSatisfy({ $0.isASCII && $0.isNumber }) ? id : nil
    }

    /// `squeue --noheader --Format=JobID:|,Name:|,State:|,NodeList:|,Reason:|,SubmitTime:|,StartTime:|,EndTime:|`.
    public static func squeue(_ output: String) -> [SlurmJobInfo] {
        output.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map { trim($0) }
            guard fields.count >= 8, !fields[0].isEmpty else { return nil }
            return SlurmJobInfo(
                id: fields[0],
                name: value(fields[1]),
                state: SlurmJobState(fields[2]),
                nodes: value(fields[3]),
                reason: value(fields[4]),
                submitTime: value(fields[5]),
                startTime: value(fields[6]),
                endTime: value(fields[7])
            )
        }
    }

    /// `sacct --noheader --parsable2 --allocations --format=JobID,JobName,State,ExitCode,Submit,Start,End,NodeList`: the
    /// last line for each id (without `--duplicates`, the job's current record).
    public static func sacct(_ output: String) -> [SlurmJobInfo] {
        var jobs: [SlurmJobInfo] = []
        for line in output.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 8, !fields[0].isEmpty else { continue }
            let exit = exitStatus(fields[3])
            let info = SlurmJobInfo(
                id: fields[0],
                name: value(fields[1]),
                state: SlurmJobState(fields[2]),
                nodes: value(fields[7]),
                submitTime: value(fields[4]),
                startTime: value(fields[5]),
                endTime: value(fields[6]),
                exitCode: exit?.code,
                signal: exit?.signal
            )
            jobs.removeAll { $0.id == info.id }
            jobs.append(info)
        }
        return jobs
    }

    /// `scontrol show job --oneliner ID`: `Key=Value` pairs separated by spaces. A value may hold spaces (`Command=`
    /// with its arguments, `Reason=`), so a word that does not look like `Key=` continues the previous value, and the
    /// first occurrence of a key wins (the fields heidi reads all come before `Command=`).
    public static func scontrol(_ output: String) -> SlurmJobInfo? {
        let fields = keyValues(output)
        guard let id = fields["JobId"], let state = fields["JobState"] else { return nil }
        let exit = fields["ExitCode"].flatMap(exitStatus)
        return SlurmJobInfo(
            id: id,
            name: fields["JobName"],
            state: SlurmJobState(state),
            nodes: fields["NodeList"].flatMap(value),
            reason: fields["Reason"].flatMap(value),
            submitTime: fields["SubmitTime"].flatMap(value),
            startTime: fields["StartTime"].flatMap(value),
            endTime: fields["EndTime"].flatMap(value),
            exitCode: exit?.code,
            signal: exit?.signal,
            restarts: fields["Restarts"].flatMap { Int($0) }
        )
    }

    /// `scontrol show config`: whether `AccountingStorageType` stores jobs (anything but `accounting_storage/none`).
    public static func accountingEnabled(_ output: String) -> Bool? {
        for line in output.split(whereSeparator: \.isNewline) where line.hasPrefix("AccountingStorageType") {
            guard let value = line.split(separator: "=", maxSplits: 1).last.map({ trim($0) }) else { return nil }
            return value != "accounting_storage/none" && !value.isEmpty
        }
        return nil
    }

    /// `3:0` → code 3; `0:9` → signal 9 (Slurm's `ExitCode` is `exit:signal`).
    public static func exitStatus(_ text: String) -> (code: Int?, signal: Int?)? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let code = Int(parts[0]), let signal = Int(parts[1]) else { return nil }
        return signal != 0 ? (nil, signal) : (code, nil)
    }

    static func trim(_ text: Substring) -> String {
        String(
            text.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed()
        )
    }

    static func keyValues(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var key: String?
        var value = ""
        func flush() {
            if let key, result[key] == nil { result[key] = value }
        }
        for word in text.split(whereSeparator: { $0 == " " || $0.isNewline }) {
            if let equals = word.firstIndex(of: "="),
                word[..<equals].allSatisfy({ $0.isLetter || $0.isNumber || "/:_".contains($0) }),
                word.first?.isUppercase == true
            {
                flush()
                key = String(word[..<equals])
                value = String(word[word.index(after: equals)...])
            } else if key != nil {
                value += " " + word
            }
        }
        flush()
        return result
    }

    /// Nil for Slurm's placeholders: empty, `(null)`, `None`, `N/A`, `Unknown`.
    static func value(_ text: String) -> String? {
        ["", "(null)", "None", "N/A", "Unknown", "n/a"].contains(text) ? nil : text
    }
}
